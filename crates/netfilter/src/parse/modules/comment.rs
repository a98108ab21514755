//! `-m comment`: the first comment is the rule's, later ones are matches.

use super::{unknown_opt, Args};
use crate::parse::args::one;
use crate::rule::*;

/// The match modules this file reads.
pub(super) const MODULES: &[(&[&str], super::Reader)] = &[(&["comment"], comment)];

/// `-m comment`.
fn comment(
    Args {
        name,
        opts,
        src,
        out,
        ..
    }: Args,
) -> Result<(), String> {
    for o in opts {
        match o.name {
            "--comment" => {
                // iptables-save always quotes a comment with spaces; hand-written restore
                // input (kube-proxy's own test data) sometimes does not. A comment decides
                // nothing, so its words are read as one comment rather than losing the rule.
                let text = match o.values {
                    [_, _, ..] if o.values.iter().all(|t| !t.is_option()) => {
                        let words: Vec<&str> = o.values.iter().map(|t| &*t.text).collect();
                        Text::new(words.join(" "))
                    }
                    _ => Text::slice_of(src, one(o)?),
                };
                if out.comment.is_none() {
                    out.comment = Some(text);
                } else {
                    out.matches.push(Match::new(MatchKind::Comment { text }));
                }
            }
            _ => return Err(unknown_opt(name, o)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::parse_iptables_save;

    #[test]
    fn an_unquoted_comment_of_several_words_is_one_comment() {
        let dump = "*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n\
                    -A PREROUTING -m comment --comment kubernetes service portals -j KUBE-SERVICES\n\
                    COMMIT\n";
        let (rs, errors) = parse_iptables_save(dump, "t");
        assert!(errors.is_empty(), "{errors:?}");
        let rule = &rs.tables[0].chains[0].rules[0];
        assert_eq!(
            rule.comment.as_ref().map(|c| c.as_str()),
            Some("kubernetes service portals")
        );
        assert!(rule.target.is_some());
    }
}
