//! The Python side of compiling: a short script run by the target's own interpreter,
//! fed sources on stdin and answering with complete `.pyc` files on stdout, and the
//! few of them run side by side over one batch.
//!
//! Each file is compiled on its own from its bytes and the path it has in the image,
//! so its pyc depends on nothing else in the batch: which worker takes it, and in what
//! order, cannot change a byte.

use std::io::{BufReader, BufWriter, Read, Write};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

/// What the interpreter reports about itself: `sys.version` on one line, X.Y.Z, the
/// magic number its pycs start with (hex), and the tag in their names (`cpython-311`).
pub const PROBE: &str = "\
import sys
from _frozen_importlib_external import MAGIC_NUMBER
print(sys.version.replace('\\n', ' '))
print('%d.%d.%d' % sys.version_info[:3])
print(MAGIC_NUMBER.hex())
print(sys.implementation.cache_tag)
";

/// Reads requests until EOF: path length (u32), source length (u64), checked (u8), the
/// path, the source. Answers each with a status (0 compiled, 1 not compilable), a length
/// (u64) and the pyc or the reason. A hash-based pyc (PEP 552) as `py_compile` writes
/// it: magic, flags (1 = hash-based, 2 = check the source), SipHash of the source, and
/// the marshalled code. Only modules every CPython has at start-up are imported.
const SCRIPT: &str = "\
import marshal, sys, _imp
from _frozen_importlib_external import MAGIC_NUMBER
KEY = int.from_bytes(MAGIC_NUMBER, 'little')
stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
def exactly(n):
    data = stdin.read(n)
    if len(data) != n:
        raise EOFError('truncated request')
    return data
while True:
    head = stdin.read(13)
    if not head:
        break
    if len(head) != 13:
        raise EOFError('truncated request')
    path = exactly(int.from_bytes(head[0:4], 'little')).decode('utf-8', 'surrogateescape')
    source = exactly(int.from_bytes(head[4:12], 'little'))
    try:
        code = compile(source, path, 'exec', dont_inherit=True)
        flags = (1 | head[12] << 1).to_bytes(4, 'little')
        out, status = MAGIC_NUMBER + flags + _imp.source_hash(KEY, source) + marshal.dumps(code), 0
        del code
    except Exception as e:
        out, status = ('%s: %s' % (type(e).__name__, e)).encode('utf-8', 'replace'), 1
    stdout.write(bytes([status]) + len(out).to_bytes(8, 'little') + out)
stdout.flush()
";

/// The interpreter flags of every run: no user or system site-packages (nothing of the
/// build machine's), no bytecode written for the interpreter's own imports, and no
/// compile-time warnings on stderr (installers do not show them either).
pub const FLAGS: &[&str] = &["-s", "-S", "-B", "-W", "ignore"];

/// One file to compile: its path in the image, its source, and whether its pyc asks
/// the interpreter to check the source's hash before use.
pub struct Job<'a> {
    pub path: &'a str,
    pub source: &'a [u8],
    pub checked: bool,
}

/// The pyc for a job, or why the interpreter could not compile it.
pub type Outcome = std::result::Result<Vec<u8>, String>;

/// Compiles `jobs` with up to `workers` interpreters started by `start`, and returns
/// one outcome per job, in order.
pub fn compile(
    jobs: &[Job<'_>],
    workers: usize,
    start: &dyn Fn() -> Result<Command>,
) -> Result<Vec<Outcome>> {
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    let workers = workers.clamp(1, jobs.len().div_ceil(MIN_JOBS_PER_WORKER));
    // Round-robin over the path order spreads one package's files across workers.
    let shares: Vec<Vec<usize>> = (0..workers)
        .map(|w| (w..jobs.len()).step_by(workers).collect())
        .collect();
    let commands = shares.iter().map(|_| start()).collect::<Result<Vec<_>>>()?;
    let results = std::thread::scope(|scope| {
        let running: Vec<_> = shares
            .iter()
            .zip(commands)
            .map(|(share, command)| {
                scope.spawn(move || run(command, share.iter().map(|&i| &jobs[i])))
            })
            .collect();
        running
            .into_iter()
            .map(|r| {
                r.join()
                    .unwrap_or_else(|_| bail!("a bytecode worker panicked"))
            })
            .collect::<Result<Vec<_>>>()
    })?;
    let mut outcomes: Vec<Option<Outcome>> = (0..jobs.len()).map(|_| None).collect();
    for (share, done) in shares.iter().zip(results) {
        for (&i, outcome) in share.iter().zip(done) {
            outcomes[i] = Some(outcome);
        }
    }
    Ok(outcomes
        .into_iter()
        .map(|o| o.expect("every job has a worker"))
        .collect())
}

/// A worker's start-up costs about what compiling this many files does.
const MIN_JOBS_PER_WORKER: usize = 32;

/// Runs one interpreter over `jobs`: a thread feeds it while this one reads answers, so
/// neither side waits on a full pipe.
fn run<'a>(
    mut command: Command,
    jobs: impl ExactSizeIterator<Item = &'a Job<'a>> + Send,
) -> Result<Vec<Outcome>> {
    let count = jobs.len();
    let mut child = command
        .args(FLAGS)
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start the Python that compiles bytecode")?;
    let stdin = child.stdin.take().expect("piped");
    let stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let (read, fed, errors) = std::thread::scope(|scope| {
        let feeder = scope.spawn(move || feed(stdin, jobs));
        let errors = scope.spawn(move || {
            let mut text = String::new();
            stderr.read_to_string(&mut text).ok();
            text
        });
        let read = answers(stdout, count);
        let fed = feeder.join().unwrap_or(Ok(()));
        (read, fed, errors.join().unwrap_or_default())
    });
    let status = child.wait()?;
    let failed = |what: String| {
        let last = errors
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        anyhow::anyhow!("the Python compiling bytecode {what}: {last}")
    };
    if !status.success() {
        return Err(failed(format!("exited with {status}")));
    }
    // A feeding error without a failed exit is a broken pipe after an early exit.
    fed.map_err(|err| failed(format!("stopped reading ({err})")))?;
    read.map_err(|err| failed(format!("answered wrongly ({err})")))
}

fn feed<'a>(stdin: impl Write, jobs: impl Iterator<Item = &'a Job<'a>>) -> std::io::Result<()> {
    let mut out = BufWriter::new(stdin);
    for job in jobs {
        out.write_all(&(job.path.len() as u32).to_le_bytes())?;
        out.write_all(&(job.source.len() as u64).to_le_bytes())?;
        out.write_all(&[u8::from(job.checked)])?;
        out.write_all(job.path.as_bytes())?;
        out.write_all(job.source)?;
    }
    out.flush()
}

/// The largest answer believed: a pyc is a few times its source at most, and sources
/// are limited before they are sent.
const ANSWER_LIMIT: u64 = 1 << 30;

fn answers(stdout: impl Read, count: usize) -> Result<Vec<Outcome>> {
    let mut input = BufReader::new(stdout);
    let mut outcomes = Vec::with_capacity(count);
    for _ in 0..count {
        let mut head = [0u8; 9];
        input.read_exact(&mut head).context("it ended early")?;
        let len = u64::from_le_bytes(head[1..].try_into().expect("8 bytes"));
        if len > ANSWER_LIMIT {
            bail!("an answer of {len} bytes");
        }
        let mut body = vec![0u8; len as usize];
        input.read_exact(&mut body).context("it ended early")?;
        outcomes.push(match head[0] {
            0 => Ok(body),
            _ => Err(String::from_utf8_lossy(&body).into_owned()),
        });
    }
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The build machine's own python3, as a stand-in for a base's interpreter.
    fn python3() -> Result<Command> {
        let mut command = Command::new("python3");
        command.env_clear().env("PYTHONHASHSEED", "0");
        Ok(command)
    }

    #[test]
    fn each_file_compiles_alone_whatever_the_batch_and_worker() {
        let sources: Vec<(String, Vec<u8>)> = (0..80)
            .map(|i| {
                let text = format!(
                    "import os\nNAME = 'module{i}'\ndef f(x):\n    return x in {{'a', 'b', NAME}}\n"
                );
                (format!("/app/pkg/m{i}.py"), text.into_bytes())
            })
            .collect();
        let jobs: Vec<Job<'_>> = sources
            .iter()
            .map(|(path, source)| Job {
                path,
                source,
                checked: false,
            })
            .collect();
        let together = compile(&jobs, 3, &python3).unwrap();
        let reversed: Vec<Job<'_>> = jobs.iter().rev().map(|j| Job { ..*j }).collect();
        let mut apart = compile(&reversed, 1, &python3).unwrap();
        apart.reverse();
        assert_eq!(together, apart);
        let pyc = together[7].as_ref().unwrap();
        assert_eq!(&pyc[4..8], &[1, 0, 0, 0], "unchecked hash-based flags");
        assert!(
            pyc.windows(b"/app/pkg/m7.py".len())
                .any(|w| w == b"/app/pkg/m7.py")
        );
    }

    #[test]
    fn a_file_that_does_not_compile_is_reported_not_fatal() {
        let jobs = [
            Job {
                path: "/a.py",
                source: b"print 'python 2'\n",
                checked: true,
            },
            Job {
                path: "/b.py",
                source: b"x = 1\n",
                checked: true,
            },
        ];
        let out = compile(&jobs, 2, &python3).unwrap();
        assert!(
            out[0].as_ref().unwrap_err().starts_with("SyntaxError"),
            "{:?}",
            out[0]
        );
        assert_eq!(
            &out[1].as_ref().unwrap()[4..8],
            &[3, 0, 0, 0],
            "checked flags"
        );
    }

    #[test]
    fn an_interpreter_that_fails_is_an_error_that_says_why() {
        let broken = || {
            let mut command = Command::new("python3");
            command
                .env_clear()
                .args(["-c", "import sys; sys.exit('no compiler here')", "--"]);
            Ok(command)
        };
        let jobs = [Job {
            path: "/a.py",
            source: b"x = 1\n",
            checked: false,
        }];
        let err = compile(&jobs, 1, &broken).unwrap_err().to_string();
        assert!(err.contains("no compiler here"), "{err}");
    }
}
