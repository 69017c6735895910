//! The virtual environment pyship lays out in the image: its paths, `pyvenv.cfg`,
//! interpreter links and console-script launchers.

use anyhow::{Result, bail};

use crate::oci::layer::{Content, Entry, Tree};

/// A venv at `prefix` for Python `python_xy`. Which interpreter runs it is decided
/// only by its skeleton, so the packages installed into it do not depend on the base's
/// patch release or interpreter path.
#[derive(Debug, Clone)]
pub struct Venv {
    prefix: String,
    python_xy: String,
}

impl Venv {
    pub fn new(prefix: &str, python_xy: &str) -> Venv {
        Venv {
            prefix: prefix.trim_end_matches('/').to_owned(),
            python_xy: python_xy.to_owned(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn python_xy(&self) -> &str {
        &self.python_xy
    }

    pub fn bin_dir(&self) -> String {
        format!("{}/bin", self.prefix)
    }

    pub fn python(&self) -> String {
        format!("{}/bin/python", self.prefix)
    }

    pub fn site_packages(&self) -> String {
        format!("{}/lib/python{}/site-packages", self.prefix, self.python_xy)
    }

    /// A path as RECORD writes it: relative to site-packages.
    pub fn relative_to_site_packages(&self, path: &str) -> String {
        let site = self.site_packages();
        if let Some(rest) = path.strip_prefix(&format!("{site}/")) {
            return rest.to_owned();
        }
        // Everything else in the venv is at most three levels up (lib/pythonX.Y/site-packages).
        let inside = path
            .strip_prefix(&format!("{}/", self.prefix))
            .unwrap_or(path);
        format!("../../../{inside}")
    }

    /// The launcher for a `module:function` entry point, run by the venv's python.
    pub fn console_script(&self, target: &str) -> Result<String> {
        let target = target.split('[').next().unwrap_or(target).trim();
        let Some((module, function)) = target.split_once(':') else {
            bail!("entry point {target:?} is not of the form module:function");
        };
        let (module, function) = (module.trim(), function.trim());
        let valid = |s: &str| {
            !s.is_empty()
                && s.split('.')
                    .all(|p| !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || c == '_'))
        };
        if !valid(module) || !valid(function) {
            bail!("entry point {target:?} is not of the form module:function");
        }
        let head = function.split('.').next().unwrap_or(function);
        Ok(format!(
            "#!{python}\nimport sys\nfrom {module} import {head}\nif __name__ == \"__main__\":\n    sys.argv[0] = sys.argv[0].removesuffix(\".exe\")\n    sys.exit({function}())\n",
            python = self.python(),
        ))
    }

    /// `pyvenv.cfg` and the `bin/python*` links to the base's `interpreter` (version
    /// `python_full`), so that nothing in the venv points at an interpreter the image
    /// does not have.
    pub fn skeleton(
        &self,
        tree: &mut Tree,
        interpreter: &str,
        python_full: &str,
        mtime: u64,
    ) -> Result<()> {
        let home = interpreter
            .rsplit_once('/')
            .map_or("/usr/bin", |(dir, _)| dir);
        let cfg = format!(
            "home = {home}\ninclude-system-site-packages = false\nversion = {}\nexecutable = {}\n",
            python_full, interpreter
        );
        tree.insert(
            &format!("{}/pyvenv.cfg", self.prefix),
            Entry::file(Content::Bytes(cfg.into_bytes()), mtime),
        )?;
        let major = self.python_xy.split('.').next().unwrap_or("3");
        for name in [
            "python".to_owned(),
            format!("python{major}"),
            format!("python{}", self.python_xy),
        ] {
            tree.insert(
                &format!("{}/{name}", self.bin_dir()),
                Entry::symlink(interpreter, mtime),
            )?;
        }
        tree.insert(
            &format!("{}/lib64", self.prefix),
            Entry::symlink("lib", mtime),
        )?;
        tree.insert(&self.site_packages(), Entry::dir(mtime))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_paths_and_launchers() {
        let venv = Venv::new("/app/.venv", "3.12");
        assert_eq!(
            venv.relative_to_site_packages("/app/.venv/lib/python3.12/site-packages/a/b.py"),
            "a/b.py"
        );
        assert_eq!(
            venv.relative_to_site_packages("/app/.venv/bin/x"),
            "../../../bin/x"
        );
        let script = venv.console_script("uvicorn.main:main [standard]").unwrap();
        assert!(script.starts_with("#!/app/.venv/bin/python\n"));
        assert!(script.contains("from uvicorn.main import main"));
        assert!(venv.console_script("os; rm -rf /").is_err());
    }
}
