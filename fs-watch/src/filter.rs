//! [`Filter`]: which entries a watcher ignores — glob include and exclude patterns, and
//! `.gitignore` files — decided before a directory is watched, so an ignored tree costs no
//! watch and no read.
//!
//! The pattern syntax and the invariant are documented on [`Filter`].

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

/// Which entries a [`Watcher`](crate::Watcher) ignores.
///
/// # Pattern syntax (globs and `.gitignore` lines alike)
///
/// Paths are matched relative to the watched root (for a `.gitignore`, to its directory),
/// with `/` between components. A pattern without a `/` (other than a trailing one) matches
/// the entry's name at any depth; one with a `/` matches the whole relative path (a leading
/// `/` only anchors). `*` matches any run of characters but `/`, `?` one character but
/// `/`, `[abc]`, `[a-z]`, `[!a-z]` (or `[^a-z]`) one character of (not of) the set, and a
/// `**` component any number of components (`**/x`, `a/**/b`, `a/**`). A trailing `/`
/// matches directories only. In `.gitignore` files, blank lines and `#` comments are
/// skipped, `!` re-includes what an earlier line excluded, `\` escapes a leading `#` or `!`,
/// and the last matching line decides (git's rules; a directory that is ignored is never
/// entered, so nothing below it can be re-included).
///
/// # Invariant
///
/// A path that is ignored is never watched, read or reported; a directory is ignored when
/// an exclude pattern or a `.gitignore` rule matches it. Include patterns only select which
/// non-directory entries are *reported*: every directory not excluded is still watched, so
/// files created deep inside it can match.
///
/// # Examples
///
/// ```
/// use kq_fs_watch::Filter;
///
/// let filter = Filter::new()
///     .include("*.rs")?
///     .exclude("target/")?
///     .gitignore(true);
/// # let _ = filter;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Filter {
    include: Vec<Pattern>,
    exclude: Vec<Pattern>,
    gitignore: bool,
}

impl Filter {
    /// A filter that ignores nothing.
    pub fn new() -> Filter {
        Filter::default()
    }

    /// Reports only non-directory entries that match `glob` (or another include pattern).
    ///
    /// # Errors
    ///
    /// `InvalidInput` for an empty pattern or an unclosed `[`.
    pub fn include(mut self, glob: &str) -> io::Result<Filter> {
        self.include.push(Pattern::parse(glob)?);
        Ok(self)
    }

    /// Ignores entries (and whole directories) that match `glob`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for an empty pattern or an unclosed `[`.
    pub fn exclude(mut self, glob: &str) -> io::Result<Filter> {
        self.exclude.push(Pattern::parse(glob)?);
        Ok(self)
    }

    /// Honours `.gitignore` files found in watched directories (and ignores `.git`
    /// directories), as git does.
    pub fn gitignore(mut self, on: bool) -> Filter {
        self.gitignore = on;
        self
    }
}

/// One parsed pattern.
#[derive(Debug, Clone)]
struct Pattern {
    /// The components to match (split at `/`), or one component for a basename pattern.
    parts: Vec<Vec<u8>>,
    /// Matches the name at any depth (no `/` in the pattern).
    basename: bool,
    dir_only: bool,
    /// A `.gitignore` line starting with `!`.
    negated: bool,
}

impl Pattern {
    fn parse(text: &str) -> io::Result<Pattern> {
        let invalid = |why: &str| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("bad pattern {text:?}: {why}"),
            )
        };
        let mut s = text;
        let dir_only = s.ends_with('/');
        s = s.trim_end_matches('/');
        let anchored = s.starts_with('/');
        s = s.trim_start_matches('/');
        if s.is_empty() {
            return Err(invalid("empty"));
        }
        let parts: Vec<Vec<u8>> = s.split('/').map(|p| p.as_bytes().to_vec()).collect();
        for p in &parts {
            check_classes(p).map_err(|_| invalid("unclosed ["))?;
        }
        Ok(Pattern {
            basename: !anchored && parts.len() == 1,
            parts,
            dir_only,
            negated: false,
        })
    }

    /// Whether the pattern matches `rel` (components of a path relative to its base).
    fn matches(&self, rel: &[&[u8]], is_dir: bool) -> bool {
        if self.dir_only && !is_dir {
            return false;
        }
        if self.basename {
            return rel
                .last()
                .is_some_and(|name| match_component(&self.parts[0], name));
        }
        match_parts(&self.parts, rel)
    }
}

/// Validates the `[...]` classes of one component.
fn check_classes(p: &[u8]) -> Result<(), ()> {
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            b'\\' => i += 2,
            b'[' => i = class_end(p, i).ok_or(())? + 1,
            _ => i += 1,
        }
    }
    Ok(())
}

/// The index of the `]` closing the class that starts at `p[start] == b'['`.
fn class_end(p: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    if i < p.len() && (p[i] == b'!' || p[i] == b'^') {
        i += 1;
    }
    if i < p.len() && p[i] == b']' {
        i += 1; // A `]` first in the class is a member.
    }
    while i < p.len() {
        if p[i] == b']' {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// Matches pattern components (with `**`) against path components.
fn match_parts(pat: &[Vec<u8>], path: &[&[u8]]) -> bool {
    match pat.split_first() {
        None => path.is_empty(),
        Some((first, rest)) if first.as_slice() == b"**" => {
            (0..=path.len()).any(|skip| match_parts(rest, &path[skip..]))
        }
        Some((first, rest)) => match path.split_first() {
            Some((name, path_rest)) => match_component(first, name) && match_parts(rest, path_rest),
            None => false,
        },
    }
}

/// Matches one component pattern (`*`, `?`, classes, `\` escapes) against one name.
fn match_component(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0, 0);
    // Backtracking point for the last `*`: (pattern index after it, name index).
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() {
            match p[pi] {
                b'*' => {
                    star = Some((pi + 1, si));
                    pi += 1;
                    continue;
                }
                b'?' => {
                    pi += 1;
                    si += 1;
                    continue;
                }
                b'[' => {
                    if let Some(end) = class_end(p, pi) {
                        if class_matches(&p[pi + 1..end], s[si]) {
                            pi = end + 1;
                            si += 1;
                            continue;
                        }
                    }
                }
                b'\\' if pi + 1 < p.len() && p[pi + 1] == s[si] => {
                    pi += 2;
                    si += 1;
                    continue;
                }
                b'\\' if pi + 1 < p.len() => {}
                c if c == s[si] => {
                    pi += 1;
                    si += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((after, from)) => {
                pi = after;
                si = from + 1;
                star = Some((after, from + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// Whether `c` is in the class body (between `[` and `]`).
fn class_matches(body: &[u8], c: u8) -> bool {
    let (negated, body) = match body.first() {
        Some(b'!') | Some(b'^') => (true, &body[1..]),
        _ => (false, body),
    };
    let mut i = 0;
    let mut found = false;
    while i < body.len() {
        if i + 2 < body.len() && body[i + 1] == b'-' {
            found |= body[i] <= c && c <= body[i + 2];
            i += 3;
        } else {
            found |= body[i] == c;
            i += 1;
        }
    }
    found != negated
}

/// Components of a relative path, as bytes.
fn components(rel: &Path) -> Vec<&[u8]> {
    use std::os::unix::ffi::OsStrExt;
    rel.components().map(|c| c.as_os_str().as_bytes()).collect()
}

/// The filter of one watcher, with the `.gitignore` rules read so far.
#[derive(Debug, Default)]
pub(crate) struct Rules {
    filter: Filter,
    /// Directory → the rules of its `.gitignore`, in file order.
    gitignores: HashMap<PathBuf, Vec<Pattern>>,
}

impl Rules {
    pub(crate) fn new(filter: Filter) -> Rules {
        Rules {
            filter,
            gitignores: HashMap::new(),
        }
    }

    /// Whether the filter ignores nothing (the fast path).
    pub(crate) fn is_empty(&self) -> bool {
        self.filter.include.is_empty() && self.filter.exclude.is_empty() && !self.filter.gitignore
    }

    /// Whether `path` (under `root`) is ignored: never watched, read or reported.
    pub(crate) fn ignored(&self, root: &Path, path: &Path, is_dir: bool) -> bool {
        let Ok(rel) = path.strip_prefix(root) else {
            return false;
        };
        let parts = components(rel);
        if parts.is_empty() {
            return false;
        }
        if self
            .filter
            .exclude
            .iter()
            .any(|p| p.matches(&parts, is_dir))
        {
            return true;
        }
        if !self.filter.gitignore {
            return false;
        }
        if is_dir && parts.last() == Some(&&b".git"[..]) {
            return true;
        }
        // The rules of every directory from the root down to the parent; the last match
        // decides.
        let mut ignored = false;
        let mut dir = root.to_path_buf();
        for depth in 0..parts.len() {
            if let Some(rules) = self.gitignores.get(&dir) {
                for rule in rules {
                    if rule.matches(&parts[depth..], is_dir) {
                        ignored = !rule.negated;
                    }
                }
            }
            if depth + 1 < parts.len() {
                use std::os::unix::ffi::OsStrExt;
                dir.push(std::ffi::OsStr::from_bytes(parts[depth]));
            }
        }
        ignored
    }

    /// Whether an event about `path` (not excluded) is reported: directories always,
    /// other entries when they match an include pattern (or there is none).
    pub(crate) fn reported(&self, root: &Path, path: &Path, is_dir: bool) -> bool {
        if self.filter.include.is_empty() || is_dir {
            return true;
        }
        let Ok(rel) = path.strip_prefix(root) else {
            return true;
        };
        let parts = components(rel);
        self.filter.include.iter().any(|p| p.matches(&parts, false))
    }

    /// Reads (or re-reads) the `.gitignore` of directory `dir`, if honoured.
    pub(crate) fn load_gitignore(&mut self, dir: &Path) {
        if !self.filter.gitignore {
            return;
        }
        match std::fs::read_to_string(dir.join(".gitignore")) {
            Ok(text) => {
                let rules = parse_gitignore(&text);
                self.gitignores.insert(dir.to_path_buf(), rules);
            }
            Err(_) => {
                self.gitignores.remove(dir);
            }
        }
    }

    /// Forgets the rules of directories at or below `dir` (no longer watched).
    pub(crate) fn forget(&mut self, dir: &Path) {
        if !self.gitignores.is_empty() {
            self.gitignores.retain(|d, _| !d.starts_with(dir));
        }
    }

    /// Whether the filter honours `.gitignore` files.
    pub(crate) fn uses_gitignore(&self) -> bool {
        self.filter.gitignore
    }
}

/// The rules of a `.gitignore` file (lines that are not valid patterns are skipped, as
/// git does).
fn parse_gitignore(text: &str) -> Vec<Pattern> {
    let mut rules = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches([' ', '\t', '\r']);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (negated, body) = match line.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, line.strip_prefix('\\').unwrap_or(line)),
        };
        if let Ok(mut p) = Pattern::parse(body) {
            p.negated = negated;
            rules.push(p);
        }
    }
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pat: &str, path: &str, dir: bool) -> bool {
        let p = Pattern::parse(pat).unwrap();
        let parts: Vec<&[u8]> = path.split('/').map(str::as_bytes).collect();
        p.matches(&parts, dir)
    }

    #[test]
    fn globs() {
        assert!(m("*.rs", "src/lib.rs", false));
        assert!(m("*.rs", "lib.rs", false));
        assert!(!m("*.rs", "lib.rsx", false));
        assert!(m("src/*.rs", "src/lib.rs", false));
        assert!(!m("src/*.rs", "a/src/lib.rs", false));
        assert!(m("/src", "src", true));
        assert!(!m("/src/x", "src", true));
        assert!(m("**/x", "x", false));
        assert!(m("**/x", "a/b/x", false));
        assert!(m("a/**/b", "a/b", false));
        assert!(m("a/**/b", "a/x/y/b", false));
        assert!(m("a/**", "a/x/y", false));
        assert!(!m("a/**/b", "a/x/c", false));
        assert!(m("f?o", "foo", false));
        assert!(!m("f?o", "fo", false));
        assert!(m("[a-c]x", "bx", false));
        assert!(!m("[!a-c]x", "bx", false));
        assert!(m("[^a-c]x", "dx", false));
        assert!(m("[]]", "]", false));
        assert!(m("\\*", "*", false));
        assert!(!m("\\*", "a", false));
        assert!(m("a*b*c", "aXXbYYc", false));
        assert!(!m("a*b*c", "aXXbYY", false));
        assert!(m("target/", "target", true));
        assert!(!m("target/", "target", false));
        assert!(Pattern::parse("").is_err());
        assert!(Pattern::parse("/").is_err());
        assert!(Pattern::parse("a[bc").is_err());
    }

    #[test]
    fn gitignore_last_match_wins() {
        let root = Path::new("/r");
        let mut rules = Rules::new(Filter::new().gitignore(true));
        rules.gitignores.insert(
            root.to_path_buf(),
            parse_gitignore("# comment\n\n*.log\n!keep.log\nbuild/\n\\#hash\n/anchored\n"),
        );
        rules
            .gitignores
            .insert(root.join("sub"), parse_gitignore("local\n!*.log\n"));
        let ig = |p: &str, dir| rules.ignored(root, &root.join(p), dir);
        assert!(ig("a.log", false));
        assert!(ig("x/y/a.log", false));
        assert!(!ig("keep.log", false));
        assert!(ig("build", true));
        assert!(!ig("build", false));
        assert!(ig("#hash", false));
        assert!(ig("anchored", false));
        assert!(!ig("x/anchored", false));
        assert!(ig("sub/local", false));
        assert!(!ig("local", false));
        assert!(
            !ig("sub/a.log", false),
            "re-included by the deeper .gitignore"
        );
        assert!(ig(".git", true));
        assert!(!ig("src/main.rs", false));
    }

    #[test]
    fn include_and_exclude() {
        let root = Path::new("/r");
        let rules = Rules::new(
            Filter::new()
                .include("*.rs")
                .unwrap()
                .exclude("target/")
                .unwrap(),
        );
        assert!(rules.ignored(root, &root.join("target"), true));
        assert!(!rules.ignored(root, &root.join("src"), true));
        assert!(rules.reported(root, &root.join("src/a.rs"), false));
        assert!(!rules.reported(root, &root.join("src/a.txt"), false));
        assert!(rules.reported(root, &root.join("src"), true));
    }
}
