//! Splits instruction arguments into words the way BuildKit does for `ENV`, `ARG`, `LABEL`
//! and `EXPOSE`: whitespace separates, quotes group, the escape character escapes, and a
//! line continuation is no character at all. Each word keeps the byte span it came from.

use std::ops::Range;

/// A word of an instruction, with its unquoted value and where it sits in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub span: Range<usize>,
    pub value: String,
}

/// A `KEY=value` pair of `ENV`, `ARG` or `LABEL`; `value` is `None` for a bare `ARG NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub span: Range<usize>,
    pub key: String,
    pub value: Option<String>,
}

/// Splits `text[span]` into words. `escape` is the file's escape character.
pub fn split(text: &str, span: Range<usize>, escape: char) -> Vec<Word> {
    let raw = &text[span.clone()];
    let mut words = Vec::new();
    let mut current: Option<(usize, String)> = None;
    let mut quote: Option<char> = None;
    let mut chars = raw.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == escape && quote != Some('\'') {
            if let Some(skipped) = continuation_len(&raw[i + c.len_utf8()..]) {
                for _ in 0..skipped {
                    chars.next();
                }
                continue;
            }
            let (_, value) = current.get_or_insert_with(|| (i, String::new()));
            if let Some((_, next)) = chars.next() {
                value.push(next);
            }
            continue;
        }
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => current.get_or_insert_with(|| (i, String::new())).1.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                current.get_or_insert_with(|| (i, String::new()));
            }
            (None, c) if c.is_whitespace() => {
                if let Some((start, value)) = current.take() {
                    words.push(Word {
                        span: span.start + start..span.start + i,
                        value,
                    });
                }
            }
            (None, c) => current.get_or_insert_with(|| (i, String::new())).1.push(c),
        }
    }
    if let Some((start, value)) = current {
        words.push(Word {
            span: span.start + start..span.end,
            value,
        });
    }
    words
}

/// If `rest` (the text after an escape character) is a line continuation — optional
/// spaces then a newline — the number of characters it spans.
fn continuation_len(rest: &str) -> Option<usize> {
    let trimmed = rest.trim_start_matches([' ', '\t', '\r']);
    trimmed
        .starts_with('\n')
        .then(|| rest[..rest.len() - trimmed.len()].chars().count() + 1)
}

/// Reads `KEY=value` pairs. The legacy one-pair form `KEY value with spaces` is
/// recognised when the first word has no `=`; for `ARG`, bare names have no value.
pub fn key_values(text: &str, span: Range<usize>, escape: char, legacy: bool) -> Vec<KeyValue> {
    let words = split(text, span.clone(), escape);
    if legacy && words.len() > 1 && !words[0].value.contains('=') {
        let rest: Vec<&str> = words[1..].iter().map(|w| w.value.as_str()).collect();
        return vec![KeyValue {
            span,
            key: words[0].value.clone(),
            value: Some(rest.join(" ")),
        }];
    }
    words
        .into_iter()
        .map(|word| match word.value.split_once('=') {
            Some((key, value)) => KeyValue {
                span: word.span,
                key: key.to_string(),
                value: Some(value.to_string()),
            },
            None => KeyValue {
                span: word.span,
                key: word.value,
                value: None,
            },
        })
        .collect()
}

/// Joins a shell-form command into one logical line: continuations vanish and comment
/// lines inside a continued instruction are dropped, as BuildKit does before the shell
/// ever sees the script.
pub fn logical_script(raw: &str, escape: char) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut lines = raw.split('\n').peekable();
    let mut first = true;
    while let Some(line) = lines.next() {
        if !first && line.trim_start().starts_with('#') {
            continue;
        }
        first = false;
        let body = line.trim_end_matches(['\r', ' ', '\t']);
        match body.strip_suffix(escape) {
            Some(joined) if lines.peek().is_some() && !ends_with_escaped_escape(joined, escape) => {
                out.push_str(joined);
            }
            _ => {
                out.push_str(line.trim_end_matches('\r'));
                if lines.peek().is_some() {
                    out.push('\n');
                }
            }
        }
    }
    out
}

fn ends_with_escaped_escape(text: &str, escape: char) -> bool {
    text.chars().rev().take_while(|&c| c == escape).count() % 2 == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Vec<String> {
        split(text, 0..text.len(), '\\')
            .into_iter()
            .map(|w| w.value)
            .collect()
    }

    #[test]
    fn quotes_group_and_escapes_escape() {
        assert_eq!(values(r#"A="b c" D=e\ f 'g h'"#), ["A=b c", "D=e f", "g h"]);
    }

    #[test]
    fn continuations_are_invisible() {
        assert_eq!(values("A=1 \\\n  B=2"), ["A=1", "B=2"]);
    }

    #[test]
    fn spans_point_into_the_text() {
        let text = "ENV  KEY=v";
        let words = split(text, 5..text.len(), '\\');
        assert_eq!(&text[words[0].span.clone()], "KEY=v");
    }

    #[test]
    fn legacy_env_takes_the_rest_of_the_line() {
        let text = "KEY some value";
        let pairs = key_values(text, 0..text.len(), '\\', true);
        assert_eq!(pairs.len(), 1);
        assert_eq!(pairs[0].value.as_deref(), Some("some value"));
    }

    #[test]
    fn logical_script_joins_and_drops_comments() {
        let raw = "apt-get update \\\n  # why\n  && apt-get install -y x";
        assert_eq!(
            logical_script(raw, '\\'),
            "apt-get update   && apt-get install -y x"
        );
    }
}
