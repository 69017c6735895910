//! How errors reach the user: one line, outermost context first, naming the thing
//! and the fix.

/// Joins an error and its causes into one line, outermost first.
pub fn one_line(err: &anyhow::Error) -> String {
    err.chain()
        .map(|cause| cause.to_string())
        .collect::<Vec<_>>()
        .join(": ")
        .replace('\n', " ")
}
