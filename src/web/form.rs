//! `FormPairs`: an urlencoded form read as its (name, value) pairs, so a field may repeat (`ids`
//! from checkboxes) and one type serves every bulk form.

use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct FormPairs(Vec<(String, String)>);

impl FormPairs {
    /// The first value of `key`, or "".
    pub fn value(&self, key: &str) -> &str {
        self.0.iter().find(|(k, _)| k == key).map_or("", |(_, v)| v.as_str())
    }

    /// Every value of `key`, in order.
    pub fn values(&self, key: &str) -> Vec<String> {
        self.0.iter().filter(|(k, _)| k == key).map(|(_, v)| v.clone()).collect()
    }

    pub fn csrf(&self) -> &str {
        self.value("csrf")
    }

    /// The `back` path to return to, only if it is one of ours (never an open redirect).
    pub fn back_or(&self, default: &str) -> String {
        local_path(self.value("back")).unwrap_or(default).to_owned()
    }
}

/// `path` when it is a path on this site.
pub fn local_path(path: &str) -> Option<&str> {
    let is_local = path.starts_with('/') && !path.starts_with("//") && !path.starts_with("/\\");
    is_local.then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_back() {
        let form = |back: &str| FormPairs(vec![("back".into(), back.into())]);
        assert_eq!(form("/categories/1?q=a").back_or("/"), "/categories/1?q=a");
        for hostile in ["//evil.example", "https://evil.example", "/\\evil.example", "javascript:alert(1)", ""] {
            assert_eq!(form(hostile).back_or("/"), "/", "{hostile}");
        }
    }

    #[test]
    fn repeated_fields_are_all_read() {
        let form = FormPairs(vec![("ids".into(), "a".into()), ("csrf".into(), "t".into()), ("ids".into(), "b".into())]);
        assert_eq!(form.values("ids"), ["a", "b"]);
        assert_eq!(form.csrf(), "t");
        assert_eq!(form.value("missing"), "");
    }
}
