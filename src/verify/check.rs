//! A check's verdict: what was looked at, what was seen, and what to do about it.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    /// An advisory check that did not pass: reported, never fails the run.
    Warn,
    Skip,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub id: String,
    pub title: String,
    pub status: Status,
    /// What was seen, pass or fail.
    pub evidence: String,
    /// What to do, for anything but a pass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    pub fn pass(id: &str, title: &str, evidence: impl Into<String>) -> Check {
        Check {
            id: id.into(),
            title: title.into(),
            status: Status::Pass,
            evidence: evidence.into(),
            fix: None,
        }
    }

    pub fn fail(
        id: &str,
        title: &str,
        evidence: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check {
            id: id.into(),
            title: title.into(),
            status: Status::Fail,
            evidence: evidence.into(),
            fix: Some(fix.into()),
        }
    }

    pub fn skip(id: &str, title: &str, why: impl Into<String>) -> Check {
        Check {
            id: id.into(),
            title: title.into(),
            status: Status::Skip,
            evidence: why.into(),
            fix: None,
        }
    }

    /// Turns a failure into a warning: for advisory checks.
    pub fn advisory(mut self) -> Check {
        if self.status == Status::Fail {
            self.status = Status::Warn;
        }
        self
    }
}
