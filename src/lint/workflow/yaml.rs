//! Workflow YAML as a small tree of maps, sequences and scalars, each scalar with the
//! byte span it came from. saphyr reports positions in characters; they are converted to
//! bytes here so workflow findings render like Dockerfile ones.

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};

use crate::dockerfile::LineIndex;
use crate::lint::finding::Draft;
use crate::lint::rule::RuleId;

/// A YAML node reduced to what the rules need, each part with its byte span.
#[derive(Debug, Clone)]
pub enum Node {
    Map(Vec<(Text, Node)>),
    Seq(Vec<Node>),
    Scalar(Text),
}

/// A scalar's text and where it starts and ends in the file.
#[derive(Debug, Clone)]
pub struct Text {
    pub text: String,
    pub span: std::ops::Range<usize>,
}

impl Node {
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    pub fn entry(&self, key: &str) -> Option<(&Text, &Node)> {
        match self {
            Node::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.text == key)
                .map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    pub fn str(&self) -> Option<&str> {
        match self {
            Node::Scalar(s) => Some(&s.text),
            _ => None,
        }
    }

    pub fn scalar(&self) -> Option<&Text> {
        match self {
            Node::Scalar(s) => Some(s),
            _ => None,
        }
    }

    pub fn items(&self) -> &[Node] {
        match self {
            Node::Seq(items) => items,
            _ => &[],
        }
    }

    pub fn entries(&self) -> &[(Text, Node)] {
        match self {
            Node::Map(entries) => entries,
            _ => &[],
        }
    }
}

/// Converts saphyr's character positions (line, column) into byte offsets.
struct Positions<'a> {
    text: &'a str,
    lines: LineIndex,
}

impl Positions<'_> {
    fn offset(&self, marker: saphyr::Marker) -> usize {
        let Some(start) = self.lines.line_start(marker.line()) else {
            return self.text.len();
        };
        let line = &self.text[start
            ..self
                .lines
                .line_end(self.text, marker.line())
                .unwrap_or(self.text.len())];
        start
            + line
                .char_indices()
                .nth(marker.col())
                .map_or(line.len(), |(i, _)| i)
    }

    fn convert(&self, node: &MarkedYaml<'_>) -> Node {
        let span = self.offset(node.span.start)..self.offset(node.span.end);
        let scalar = |text: String| {
            Node::Scalar(Text {
                text,
                span: span.clone(),
            })
        };
        match &node.data {
            YamlData::Mapping(map) => Node::Map(
                map.iter()
                    .map(|(k, v)| {
                        let key = match self.convert(k) {
                            Node::Scalar(s) => s,
                            _ => Text {
                                text: String::new(),
                                span: span.clone(),
                            },
                        };
                        (key, self.convert(v))
                    })
                    .collect(),
            ),
            YamlData::Sequence(items) => Node::Seq(items.iter().map(|i| self.convert(i)).collect()),
            YamlData::Value(value) => scalar(match value {
                Scalar::Null => String::new(),
                Scalar::Boolean(b) => b.to_string(),
                Scalar::Integer(i) => i.to_string(),
                Scalar::FloatingPoint(f) => f.to_string(),
                Scalar::String(s) => s.to_string(),
            }),
            YamlData::Representation(text, _, _) => scalar(text.to_string()),
            YamlData::Tagged(_, inner) => self.convert(inner),
            _ => scalar(String::new()),
        }
    }
}

/// Deeper than this, a document is no workflow; refusing it keeps the recursive YAML
/// loader from exhausting the stack on hostile input.
const MAX_NESTING: usize = 512;

/// An upper bound on a document's nesting: every enclosing block collection sits at a
/// column left of the current line's indentation or is a `- ` or `? ` opened before the
/// line's first scalar, and flow collections are counted by their open brackets outside
/// quotes. Scalar text (a `run:` line full of dashes and colons) adds nothing.
fn nesting_bound(text: &str) -> usize {
    let mut flow = 0usize;
    let mut bound = 0;
    for line in text.lines() {
        let body = line.trim_start();
        let indent = line.len() - body.len();
        let mut rest = body;
        let mut markers = 0;
        while let Some(after) = rest
            .strip_prefix("- ")
            .or_else(|| rest.strip_prefix("? "))
            .or_else(|| rest.strip_prefix("-\t"))
        {
            markers += 1;
            rest = after.trim_start();
        }
        let mut quote: Option<char> = None;
        let mut deepest = flow;
        let mut previous = ' ';
        for c in rest.chars() {
            // A quote opens a string only where a token starts.
            let token_start = previous.is_whitespace() || "[{,:".contains(previous);
            previous = c;
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '\'' | '"') if token_start => quote = Some(c),
                (None, '#') if flow == 0 => break,
                (None, '[' | '{') => {
                    flow += 1;
                    deepest = deepest.max(flow);
                }
                (None, ']' | '}') => flow = flow.saturating_sub(1),
                _ => {}
            }
        }
        bound = bound.max(indent + markers + deepest + 1);
    }
    bound
}

/// Parses a workflow; a YAML error becomes a PS100 finding.
pub fn parse(text: &str) -> Result<Node, Draft> {
    if nesting_bound(text) > MAX_NESTING {
        return Err(Draft::new(
            RuleId::PS100,
            0..0,
            format!("nested more than {MAX_NESTING} levels deep: not a workflow pyship reads"),
        ));
    }
    let positions = Positions {
        text,
        lines: LineIndex::new(text),
    };
    match MarkedYaml::load_from_str(text) {
        Ok(docs) => Ok(docs
            .first()
            .map_or(Node::Map(Vec::new()), |d| positions.convert(d))),
        Err(err) => {
            let at = positions.offset(*err.marker());
            Err(Draft::new(
                RuleId::PS100,
                at..at,
                format!("invalid YAML: {}", err.info()),
            ))
        }
    }
}
