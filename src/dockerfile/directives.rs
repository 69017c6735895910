//! Parser directives: the `# key=value` comments BuildKit reads before the first instruction.

/// The directives a Dockerfile declares. Unknown keys are ignored, as BuildKit does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directives {
    /// `# syntax=` names the frontend image.
    pub syntax: Option<String>,
    /// `# escape=` switches the escape character from `\` to `` ` ``.
    pub escape: Option<char>,
    /// `# check=` configures BuildKit's own build checks.
    pub check: Option<String>,
}

impl Directives {
    /// The escape character in force: `\` unless `# escape=` says otherwise.
    pub fn escape_char(&self) -> char {
        self.escape.unwrap_or('\\')
    }
}

/// Reads directives from the top of `text`. They stop at the first line that is not a
/// `# key=value` comment: a blank line, an instruction, or a plain comment.
pub fn parse(text: &str) -> Directives {
    let mut directives = Directives::default();
    for line in text.trim_start_matches('\u{feff}').lines() {
        let Some(comment) = line.trim_start().strip_prefix('#') else {
            break;
        };
        let Some((key, value)) = comment.split_once('=') else {
            break;
        };
        let key = key.trim().to_ascii_lowercase();
        let value = value.trim().to_string();
        if key.contains(char::is_whitespace) {
            break;
        }
        match key.as_str() {
            "syntax" => directives.syntax = Some(value),
            "escape" => {
                directives.escape = value.chars().next().filter(|c| matches!(c, '\\' | '`'))
            }
            "check" => directives.check = Some(value),
            _ => {}
        }
    }
    directives
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_leading_directives_only() {
        let d = parse("# syntax=docker/dockerfile:1\n# escape=`\nFROM x\n# check=skip=all\n");
        assert_eq!(d.syntax.as_deref(), Some("docker/dockerfile:1"));
        assert_eq!(d.escape_char(), '`');
        assert_eq!(d.check, None);
    }

    #[test]
    fn a_plain_comment_ends_the_directives() {
        let d = parse("# hello\n# escape=`\nFROM x\n");
        assert_eq!(d.escape_char(), '\\');
    }
}
