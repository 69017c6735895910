//! The parser's promise that no input panics, checked on many mutated Dockerfiles in the
//! normal test suite (the `fuzz/` target explores further when run with cargo-fuzz).

use super::{Dockerfile, Kind};

const SEEDS: &[&str] = &[
    "# syntax=docker/dockerfile:1\nARG PY=3.12\nFROM python:${PY:-3.11}-slim AS build\nRUN --mount=type=cache,target=/root/.cache/uv \\\n    uv sync --locked\nCOPY --from=build --chown=1000:1000 /app /app\nCMD [\"python\", \"-m\", \"app\"]\n",
    "# escape=`\nFROM python:3.12\nRUN echo a `\n  b\nENV A=1 B=\"x y\"\nHEALTHCHECK CMD curl -f http://localhost/ || exit 1\n",
    "FROM x\nRUN python3 <<PY\nprint(1)\nPY\nRUN cat <<-A >a <<B\n\tx\nA\ny\nB\n",
    "FROM x\nRUN <<EOF\nset -e\necho hi\nEOF\nCOPY <<-EOT /a\n\thello\nEOT\nONBUILD RUN y\nEXPOSE 80/tcp 443\nSHELL [\"/bin/bash\", \"-c\"]\n",
];

/// Bytes and fragments that steer mutations into the parser's tricky corners.
const TOKENS: &[&str] = &[
    "\\\n",
    "`\n",
    "<<EOF\n",
    "EOF\n",
    "\"",
    "'",
    "[",
    "]",
    "${",
    "}",
    "$",
    "--mount=",
    "=",
    "#",
    "# escape=`\n",
    "\n",
    " ",
    "\t",
    "\r\n",
    "FROM ",
    "RUN ",
    "COPY ",
    "AS ",
    "é",
    "\u{feff}",
    "ONBUILD ",
    "HEALTHCHECK ",
    "<<-",
    "\\",
    ",",
    ":-",
];

/// xorshift64*: deterministic, so a failure reproduces exactly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, input: &str) -> String {
    let mut text = input.to_string();
    for _ in 0..=rng.below(6) {
        let mut at = rng.below(text.len() + 1);
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        match rng.below(4) {
            0 => text.insert_str(at, TOKENS[rng.below(TOKENS.len())]),
            1 => {
                let mut end = (at + rng.below(12)).min(text.len());
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                text.replace_range(at..end, "");
            }
            2 => text.insert(at, char::from(rng.below(128) as u8)),
            _ => {
                let other = SEEDS[rng.below(SEEDS.len())];
                let mut cut = rng.below(other.len());
                while !other.is_char_boundary(cut) {
                    cut -= 1;
                }
                text.insert_str(at, &other[cut..]);
            }
        }
    }
    text
}

/// Walks everything a rule might touch, so a bad span panics here rather than in a rule.
fn exercise(df: &Dockerfile) {
    for instruction in &df.instructions {
        assert!(
            instruction.span.start <= instruction.span.end,
            "{instruction:?}"
        );
        assert!(
            df.text.get(instruction.span.clone()).is_some(),
            "{instruction:?}"
        );
        df.position(instruction.span.start);
        if let Kind::Run(run) = &instruction.kind {
            run.script();
        }
    }
    for error in &df.errors {
        assert!(df.text.get(error.span.clone()).is_some(), "{error:?}");
    }
    for stage in &df.stages {
        df.stage_scope(stage);
        df.lineage(stage);
    }
}

#[test]
fn mutated_dockerfiles_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut recovered, mut clean) = (0, 0);
    for round in 0..4000 {
        let seed = SEEDS[round % SEEDS.len()];
        let input = mutate(&mut rng, seed);
        let df = Dockerfile::parse(&input);
        exercise(&df);
        if df.errors.is_empty() {
            clean += 1;
        } else if !df.instructions.is_empty() {
            recovered += 1;
        }
    }
    // The mutations must reach both the happy path and error recovery to mean anything.
    assert!(
        clean > 400 && recovered > 400,
        "clean {clean}, recovered {recovered}"
    );
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(42);
    for _ in 0..2000 {
        let len = rng.below(200);
        let bytes: Vec<u8> = (0..len).map(|_| rng.below(256) as u8).collect();
        exercise(&Dockerfile::parse(&String::from_utf8_lossy(&bytes)));
    }
}
