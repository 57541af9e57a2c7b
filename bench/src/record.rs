//! `key=value` records: how a measuring process hands its figures to the
//! driver on one line (`result a=1 b=x …`).

use std::collections::BTreeMap;
use std::error::Error;
use std::fmt::Write as _;

/// One line of `key=value` fields; values hold no spaces.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Record {
    fields: BTreeMap<String, String>,
}

impl Record {
    pub fn new() -> Self {
        Record::default()
    }

    /// Sets `key`; spaces in the value become `_`.
    pub fn set(&mut self, key: &str, value: impl ToString) -> &mut Self {
        self.fields
            .insert(key.to_owned(), value.to_string().replace(' ', "_"));
        self
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields.get(key).map(String::as_str)
    }

    /// The field as a number; 0 when missing or not a number.
    pub fn num(&self, key: &str) -> f64 {
        self.get(key).and_then(|v| v.parse().ok()).unwrap_or(0.0)
    }

    pub fn to_line(&self) -> String {
        let mut out = String::new();
        for (k, v) in &self.fields {
            if !out.is_empty() {
                out.push(' ');
            }
            let _ = write!(out, "{k}={v}");
        }
        out
    }

    pub fn parse(line: &str) -> Result<Self, Box<dyn Error>> {
        let mut record = Record::new();
        for field in line.split_whitespace() {
            let (k, v) = field
                .split_once('=')
                .ok_or_else(|| format!("field without '=': {field}"))?;
            record.fields.insert(k.to_owned(), v.to_owned());
        }
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let mut r = Record::new();
        r.set("contender", "tagwire")
            .set("cpu_us", 12)
            .set("note", "a b");
        let back = Record::parse(&r.to_line()).map_err(|e| e.to_string());
        assert_eq!(back, Ok(r.clone()));
        assert_eq!(r.num("cpu_us"), 12.0);
        assert_eq!(r.get("note"), Some("a_b"));
    }
}
