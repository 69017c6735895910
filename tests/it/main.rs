//! pyship's integration tests, one module per area, linked into one test binary so a
//! clean build links the dependencies once rather than once per file.

mod common;

mod attest;
mod build;
mod build_errors;
mod cache_hygiene;
mod crash_safety;
mod debian;
mod fault_injection;
mod hostile_inputs;
mod init;
mod lint_cli;
mod lint_corpus;
mod lint_hadolint;
mod lint_rules;
mod lockfiles;
mod multiplatform;
mod packaging;
mod parsers_never_panic;
mod pep517;
mod poetry;
mod pre_commit;
mod publish;
mod registry_auth;
mod requirements;
mod serve;
mod trust;
mod trust_files;
mod verify;
mod workspace;
