//! One-line renderings of nft JSON rules, in nft's own syntax where that is easy; a trace quotes
//! these as the rule's text.

use serde_json::Value;

/// A readable one-line rendering of a rule's expressions, in nft's own syntax where easy.
pub(super) fn render_rule(exprs: &[Value]) -> String {
    exprs.iter().map(render_expr).collect::<Vec<_>>().join(" ")
}

fn render_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Array(a) => format!(
            "{{ {} }}",
            a.iter().map(render_value).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(o) => {
            if let Some(p) = o.get("payload") {
                return format!(
                    "{} {}",
                    p.get("protocol").and_then(Value::as_str).unwrap_or("?"),
                    p.get("field").and_then(Value::as_str).unwrap_or("?")
                );
            }
            if let Some(m) = o.get("meta") {
                return format!(
                    "meta {}",
                    m.get("key").and_then(Value::as_str).unwrap_or("?")
                );
            }
            if let Some(m) = o.get("ct") {
                return format!("ct {}", m.get("key").and_then(Value::as_str).unwrap_or("?"));
            }
            if let Some(p) = o.get("prefix") {
                return format!("{}/{}", render_value(&p["addr"]), render_value(&p["len"]));
            }
            if let Some(r) = o.get("range").and_then(Value::as_array) {
                return format!(
                    "{}-{}",
                    r.first().map(render_value).unwrap_or_default(),
                    r.get(1).map(render_value).unwrap_or_default()
                );
            }
            if let Some(s) = o.get("set").and_then(Value::as_array) {
                let items: Vec<String> = s
                    .iter()
                    .map(|x| match x.as_array() {
                        Some(pair) if pair.len() == 2 => {
                            format!("{} : {}", render_value(&pair[0]), render_expr(&pair[1]))
                        }
                        _ => render_value(x),
                    })
                    .collect();
                return format!("{{ {} }}", items.join(", "));
            }
            if let Some(c) = o.get("concat").and_then(Value::as_array) {
                return c.iter().map(render_value).collect::<Vec<_>>().join(" . ");
            }
            if let Some(f) = o.get("fib") {
                return format!(
                    "fib {} {}",
                    render_value(f.get("flags").unwrap_or(&Value::Null)),
                    f.get("result").and_then(Value::as_str).unwrap_or("?")
                );
            }
            if let Some(n) = o.get("numgen") {
                return format!(
                    "numgen {} mod {}",
                    n.get("mode").and_then(Value::as_str).unwrap_or("?"),
                    render_value(n.get("mod").unwrap_or(&Value::Null))
                );
            }
            if let Some(e) = o.get("elem") {
                return render_value(e.get("val").unwrap_or(&Value::Null));
            }
            for op in ["&", "|", "^"] {
                if let Some(a) = o.get(op).and_then(Value::as_array) {
                    return a
                        .iter()
                        .map(render_value)
                        .collect::<Vec<_>>()
                        .join(&format!(" {op} "));
                }
            }
            v.to_string()
        }
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
    }
}

fn render_expr(e: &Value) -> String {
    let Some(o) = e.as_object() else {
        return e.to_string();
    };
    let Some((k, val)) = o.iter().next() else {
        return String::new();
    };
    match k.as_str() {
        "match" => {
            let op = val.get("op").and_then(Value::as_str).unwrap_or("==");
            let left = render_value(val.get("left").unwrap_or(&Value::Null));
            let right = render_value(val.get("right").unwrap_or(&Value::Null));
            match op {
                "==" | "in" => format!("{left} {right}"),
                _ => format!("{left} {op} {right}"),
            }
        }
        "jump" | "goto" => format!(
            "{k} {}",
            val.get("target").and_then(Value::as_str).unwrap_or("?")
        ),
        "vmap" => format!(
            "{} vmap {}",
            render_value(val.get("key").unwrap_or(&Value::Null)),
            render_value(val.get("data").unwrap_or(&Value::Null))
        ),
        "dnat" | "snat" => {
            let mut s = format!("{k} to");
            if let Some(a) = val.get("addr") {
                s.push_str(&format!(" {}", render_value(a)));
            }
            if let Some(p) = val.get("port") {
                s.push_str(&format!(":{}", render_value(p)));
            }
            s
        }
        "mangle" => format!(
            "{} set {}",
            render_value(val.get("key").unwrap_or(&Value::Null)),
            render_value(val.get("value").unwrap_or(&Value::Null))
        ),
        "xt" => format!(
            "xt {} {}",
            val.get("type").and_then(Value::as_str).unwrap_or("?"),
            val.get("name").and_then(Value::as_str).unwrap_or("?")
        ),
        "reject" if val.is_object() => format!(
            "reject with {} {}",
            render_value(val.get("type").unwrap_or(&Value::Null)),
            render_value(val.get("expr").unwrap_or(&Value::Null))
        )
        .trim()
        .to_string(),
        _ if val.is_null() => k.clone(),
        "counter" => "counter".into(),
        "masquerade" => match val.get("flags") {
            Some(f) => format!("masquerade {}", render_value(f)),
            None => "masquerade".into(),
        },
        _ => format!("{k} {}", render_value(val)),
    }
}
