//! Just enough shell to read `RUN` scripts: simple commands split at `&&`, `||`, `;`, `|`
//! and newlines, words unquoted, leading `VAR=value` assignments and wrappers set aside.

/// One simple command of a script, e.g. `pip install --no-cache-dir flask`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimpleCommand {
    /// `VAR=value` words written before the program.
    pub assignments: Vec<String>,
    /// The program and its arguments, unquoted.
    pub words: Vec<String>,
}

/// A `RUN` script broken into simple commands.
#[derive(Debug, Clone, Default)]
pub struct Script {
    pub commands: Vec<SimpleCommand>,
    /// Whether any `|` pipe joins two commands.
    pub has_pipe: bool,
    /// Words an unquoted `<` or `>` cuts short, as in `pip install flask>=3`: the shell
    /// reads a redirection there, not a version bound. The word up to the operator.
    pub redirected: Vec<String>,
}

impl Script {
    pub fn parse(text: &str) -> Script {
        let mut script = Script::default();
        let mut words: Vec<String> = Vec::new();
        let mut word: Option<String> = None;
        let mut chars = text.chars().peekable();
        // `case` patterns (`a|b)`) hold `|` and `)` that are neither pipes nor subshells.
        let mut case = Case::default();
        let flush_word = |word: &mut Option<String>, words: &mut Vec<String>, case: &mut Case| {
            if let Some(w) = word.take() {
                case.note(words, &w);
                words.push(w);
            }
            case.in_pattern
        };
        while let Some(c) = chars.next() {
            match c {
                '|' | '(' if flush_word(&mut word, &mut words, &mut case) => {}
                ')' if flush_word(&mut word, &mut words, &mut case) => {
                    // The pattern ends; the commands of its branch follow.
                    words.clear();
                    case.in_pattern = false;
                }
                ';' if case.open > 0 && chars.peek() == Some(&';') => {
                    chars.next();
                    flush_word(&mut word, &mut words, &mut case);
                    script.push(std::mem::take(&mut words));
                    case.in_pattern = true;
                }
                '\'' => {
                    let w = word.get_or_insert_with(String::new);
                    for c in chars.by_ref() {
                        if c == '\'' {
                            break;
                        }
                        w.push(c);
                    }
                }
                '"' => {
                    let w = word.get_or_insert_with(String::new);
                    while let Some(c) = chars.next() {
                        match c {
                            '"' => break,
                            '\\' => {
                                if let Some(next) = chars.next() {
                                    w.push(next);
                                }
                            }
                            c => w.push(c),
                        }
                    }
                }
                '\\' => match chars.next() {
                    Some('\n') | None => {}
                    Some(next) => word.get_or_insert_with(String::new).push(next),
                },
                '#' if word.is_none() => {
                    // A comment runs to the end of the line.
                    while chars.peek().is_some_and(|&c| c != '\n') {
                        chars.next();
                    }
                }
                '|' | '&' | ';' | '\n' | '(' | ')' => {
                    flush_word(&mut word, &mut words, &mut case);
                    let doubled = matches!(c, '|' | '&') && chars.peek() == Some(&c);
                    if doubled {
                        chars.next();
                    } else if c == '|' {
                        script.has_pipe = true;
                    } else if c == '&' && chars.peek() == Some(&'>') {
                        // `&>file` redirects; it does not end the command.
                        continue;
                    }
                    script.push(std::mem::take(&mut words));
                }
                c if c.is_whitespace() => {
                    flush_word(&mut word, &mut words, &mut case);
                }
                '<' | '>'
                    if word.as_ref().is_some_and(|w| {
                        w.starts_with(|c: char| c.is_ascii_alphabetic())
                            && !w.contains(['<', '>', '='])
                    }) =>
                {
                    if let Some(w) = &mut word {
                        script.redirected.push(w.clone());
                        w.push(c);
                    }
                }
                c => word.get_or_insert_with(String::new).push(c),
            }
        }
        flush_word(&mut word, &mut words, &mut case);
        script.push(words);
        script
    }

    fn push(&mut self, mut words: Vec<String>) {
        let assignments_end = words
            .iter()
            .position(|w| !is_assignment(w))
            .unwrap_or(words.len());
        let assignments: Vec<String> = words.drain(..assignments_end).collect();
        // Wrappers that run the next word as the command.
        while words
            .first()
            .is_some_and(|w| matches!(w.as_str(), "sudo" | "exec" | "time" | "nohup" | "command"))
        {
            words.remove(0);
        }
        if !words.is_empty() || !assignments.is_empty() {
            self.commands.push(SimpleCommand { assignments, words });
        }
    }

    /// Whether the script turns on `pipefail` itself.
    pub fn sets_pipefail(&self) -> bool {
        self.commands.iter().any(|c| {
            c.program() == Some("set")
                && c.words
                    .windows(2)
                    .any(|w| w[0].starts_with('-') && w[1] == "pipefail")
        })
    }
}

/// Where the parser stands in `case … in … esac`.
#[derive(Default)]
struct Case {
    /// `case` statements opened and not yet closed.
    open: usize,
    /// The next words are a pattern, up to its `)`.
    in_pattern: bool,
}

impl Case {
    fn note(&mut self, words: &[String], word: &str) {
        match word {
            "in" if words.first().is_some_and(|f| f == "case") && !self.in_pattern => {
                self.open += 1;
                self.in_pattern = true;
            }
            "esac" if self.open > 0 => {
                self.open -= 1;
                self.in_pattern = false;
            }
            _ => {}
        }
    }
}

fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit())
    })
}

/// A command with the `ARG`/`ENV` values the shell would see substituted into its words.
#[derive(Debug, Clone)]
pub struct Expanded {
    pub command: SimpleCommand,
    /// Some word held a variable: a flag may come from outside the text (`$UV_ARGS`).
    pub variable: bool,
    /// Some variable had no known value (a bare `ARG`): it may carry any flag.
    pub open: bool,
}

impl SimpleCommand {
    /// Substitutes `scope` into the words; an unquoted variable holding several words
    /// splits into them, as the shell splits `uv sync $UV_INSTALL_ARGS`.
    pub fn expand(&self, scope: &crate::dockerfile::Scope, escape: char) -> Expanded {
        let mut words = Vec::with_capacity(self.words.len());
        let (mut variable, mut open) = (false, false);
        for word in &self.words {
            if !word.contains('$') {
                words.push(word.clone());
                continue;
            }
            variable = true;
            let e = crate::dockerfile::expand::expand(word, scope, escape);
            open |= e.unresolved || e.text.trim().is_empty();
            words.extend(e.text.split_whitespace().map(str::to_string));
        }
        Expanded {
            command: SimpleCommand {
                assignments: self.assignments.clone(),
                words,
            },
            variable,
            open,
        }
    }

    /// Whether an option is given, also as an abbreviation pip's option parser accepts
    /// (`--no-cache` for `--no-cache-dir`): a prefix of `flag` at least `min` long.
    pub fn has_prefix_of(&self, flag: &str, min: usize) -> bool {
        self.args().iter().any(|a| {
            let name = a.split('=').next().unwrap_or(a);
            name.len() >= min && flag.starts_with(name)
        })
    }

    /// The program, without its directory: `pip` for `/usr/local/bin/pip`.
    pub fn program(&self) -> Option<&str> {
        self.words
            .first()
            .map(|w| w.rsplit('/').next().unwrap_or(w))
    }

    pub fn args(&self) -> &[String] {
        self.words.get(1..).unwrap_or_default()
    }

    pub fn has_flag(&self, flag: &str) -> bool {
        self.args().iter().any(|a| {
            a == flag
                || a.strip_prefix(flag)
                    .is_some_and(|rest| rest.starts_with('='))
        })
    }

    /// The arguments after a `pip install`, however pip is invoked: `pip`, `pip3.12`,
    /// `python -m pip`, `uv pip`.
    pub fn pip_install_args(&self) -> Option<&[String]> {
        let program = self.program()?;
        let args = self.args();
        let rest = if is_pip(program) {
            args
        } else if is_python(program) && args.len() >= 2 && args[0] == "-m" && is_pip(&args[1]) {
            &args[2..]
        } else if program == "uv" && args.first().is_some_and(|a| a == "pip") {
            &args[1..]
        } else {
            return None;
        };
        (rest.first()? == "install").then(|| &rest[1..])
    }

    /// Whether this is `pip` run through `uv pip`, which never writes pip's cache.
    pub fn is_uv_pip(&self) -> bool {
        self.program() == Some("uv") && self.args().first().is_some_and(|a| a == "pip")
    }

    /// Whether this is `<tool> <subcommand>`, e.g. `uv sync` or `poetry install`.
    pub fn is(&self, tool: &str, subcommand: &str) -> bool {
        self.program() == Some(tool) && self.args().first().is_some_and(|a| a == subcommand)
    }
}

fn is_pip(program: &str) -> bool {
    program == "pip"
        || program
            .strip_prefix("pip")
            .is_some_and(|v| v.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

fn is_python(program: &str) -> bool {
    program == "python"
        || program
            .strip_prefix("python")
            .is_some_and(|v| v.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_operators_and_unquotes() {
        let s = Script::parse(
            "apt-get update && apt-get install -y \"a b\" | tee x; FOO=1 sudo pip install c",
        );
        let programs: Vec<_> = s.commands.iter().filter_map(|c| c.program()).collect();
        assert_eq!(programs, ["apt-get", "apt-get", "tee", "pip"]);
        assert_eq!(s.commands[1].words[3], "a b");
        assert_eq!(s.commands[3].assignments, ["FOO=1"]);
        assert!(s.has_pipe);
        assert!(!Script::parse("a || b").has_pipe);
    }

    #[test]
    fn recognises_every_pip_spelling() {
        for text in [
            "pip install x",
            "pip3.12 install x",
            "python3 -m pip install x",
            "uv pip install x",
        ] {
            let s = Script::parse(text);
            assert_eq!(
                s.commands[0].pip_install_args(),
                Some(&["x".to_string()][..]),
                "{text}"
            );
        }
        assert!(
            Script::parse("pipx install x").commands[0]
                .pip_install_args()
                .is_none()
        );
    }

    #[test]
    fn unquoted_version_bounds_are_redirections() {
        assert_eq!(
            Script::parse("pip install flask>=3.0 'redis>=5'").redirected,
            ["flask"]
        );
        assert!(Script::parse("echo a > /tmp/x").redirected.is_empty());
    }

    #[test]
    fn case_patterns_are_not_pipes() {
        let s = Script::parse(
            "case \"$TARGETARCH\" in amd64|x86_64) A=x ;; arm64) A=y ;; esac && pip install a",
        );
        assert!(!s.has_pipe);
        assert!(s.commands.iter().any(|c| c.program() == Some("pip")));
        assert!(Script::parse("case x in a) b | c ;; esac").has_pipe);
    }

    #[test]
    fn pipefail_is_detected() {
        assert!(Script::parse("set -eux -o pipefail; a | b").sets_pipefail());
        assert!(Script::parse("set -o pipefail && a | b").sets_pipefail());
        assert!(!Script::parse("set -e; a | b").sets_pipefail());
    }
}
