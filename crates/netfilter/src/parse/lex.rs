//! Splitting a rule line into arguments the way `iptables-restore` does: whitespace separates,
//! double quotes group (`--comment "a b"`), a backslash takes the next character literally
//! (`\"` inside a comment).

use std::borrow::Cow;

/// One argument of a rule line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token<'a> {
    pub text: Cow<'a, str>,
    /// Written with quotes or escapes: always a value, never an option or `!`.
    pub quoted: bool,
}

impl Token<'_> {
    /// An option word (`-p`, `--dport`) as opposed to a value.
    pub fn is_option(&self) -> bool {
        !self.quoted && self.text.starts_with('-') && self.text.len() > 1 && !is_number(&self.text)
    }

    pub fn is_bang(&self) -> bool {
        !self.quoted && self.text == "!"
    }
}

fn is_number(s: &str) -> bool {
    s[1..].chars().all(|c| c.is_ascii_digit())
}

/// Split `line`. An unclosed quote or a trailing backslash is an error (the line was cut).
pub fn split(line: &str) -> Result<Vec<Token<'_>>, String> {
    let mut out = Vec::with_capacity(24);
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= bytes.len() {
            break;
        }
        let start = i;
        // Fast path: a plain word borrows from the line.
        while i < bytes.len()
            && !bytes[i].is_ascii_whitespace()
            && bytes[i] != b'"'
            && bytes[i] != b'\\'
        {
            i += 1;
        }
        if i >= bytes.len() || bytes[i].is_ascii_whitespace() {
            out.push(Token {
                text: Cow::Borrowed(&line[start..i]),
                quoted: false,
            });
            continue;
        }
        let mut buf = String::from(&line[start..i]);
        let mut in_quote = false;
        while i < bytes.len() {
            let c = bytes[i];
            if c == b'\\' {
                let rest = &line[i + 1..];
                match rest.chars().next() {
                    Some(ch) => {
                        buf.push(ch);
                        i += 1 + ch.len_utf8();
                    }
                    None => return Err("line ends with a lone backslash".into()),
                }
                continue;
            }
            if c == b'"' {
                in_quote = !in_quote;
                i += 1;
                continue;
            }
            if !in_quote && c.is_ascii_whitespace() {
                break;
            }
            let ch = line[i..].chars().next().unwrap_or(' ');
            buf.push(ch);
            i += ch.len_utf8();
        }
        if in_quote {
            return Err(format!(
                "unclosed quote in {:?}: the line is cut short",
                &line[start..]
            ));
        }
        out.push(Token {
            text: Cow::Owned(buf),
            quoted: true,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(line: &str) -> Vec<String> {
        split(line)
            .expect("splits")
            .into_iter()
            .map(|t| t.text.into_owned())
            .collect()
    }

    #[test]
    fn quotes_group_and_escapes_survive() {
        assert_eq!(
            texts(r#"-m comment --comment "a b" -j X"#),
            ["-m", "comment", "--comment", "a b", "-j", "X"]
        );
        assert_eq!(
            texts(r#"--comment "name: \"cbr0\" id: \"abc\"""#),
            ["--comment", r#"name: "cbr0" id: "abc""#]
        );
        assert_eq!(
            texts(r#"--log-prefix "[UFW BLOCK] ""#),
            ["--log-prefix", "[UFW BLOCK] "]
        );
    }

    #[test]
    fn unclosed_quote_is_an_error() {
        let e = split(r#"-m comment --comment "kubernetes serv"#).expect_err("unclosed");
        assert!(e.contains("unclosed quote"), "{e}");
    }

    #[test]
    fn quoted_dash_is_a_value() {
        let t = split(r#"--log-prefix "-x""#).expect("splits");
        assert!(!t[1].is_option());
        assert!(t[0].is_option());
    }
}
