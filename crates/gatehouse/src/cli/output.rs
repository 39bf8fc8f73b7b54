//! What commands print: `--json` (one JSON document on standard output, nothing else)
//! or a table whose columns fit their content, measured in terminal cells (CJK and emoji
//! take two), with over-long cells cut short with "…" (the full value is in `show` and
//! `--json`). Shared by the user commands and `gatehouse admin`.

use clap::Args;
use serde_json::Value;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::cli::out::outln;
use crate::cli::term::safe;

/// The widest a table cell gets before it is shortened.
pub const MAX_CELL: usize = 40;

/// `--json` / `-o json`.
#[derive(Debug, Args, Clone, Default)]
pub struct OutputArgs {
    /// Print the result as one JSON document (the same as -o json).
    #[arg(long, global = true)]
    pub json: bool,
    /// Output format: table (the default) or json.
    #[arg(
        short = 'o',
        long = "format",
        global = true,
        value_name = "FORMAT",
        value_parser = ["table", "json"]
    )]
    pub format: Option<String>,
}

impl OutputArgs {
    /// Whether JSON was asked for.
    pub fn is_json(&self) -> bool {
        self.json || self.format.as_deref() == Some("json")
    }
}

/// Prints `value` as one JSON document.
pub fn print_json(value: &Value) -> anyhow::Result<()> {
    outln!("{}", serde_json::to_string_pretty(value)?)
}

/// `text` made safe for the terminal and cut to at most `max` cells.
pub fn fit(text: &str, max: usize) -> String {
    let text = safe(text);
    if text.width() <= max {
        return text.into_owned();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > max {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    out
}

/// A table printed with two spaces between columns.
pub struct Table {
    headers: Vec<&'static str>,
    /// Columns of free text (names people chose), shortened past [`MAX_CELL`]; the others
    /// (ids, fingerprints, times) are identifiers and always shown whole.
    cut: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headings.
    pub fn new(headers: &[&'static str]) -> Self {
        Table {
            headers: headers.to_vec(),
            cut: Vec::new(),
            rows: Vec::new(),
        }
    }

    /// Names the free-text columns, whose long cells are shortened with "…".
    pub fn shorten(mut self, columns: &[&'static str]) -> Self {
        self.cut = columns.to_vec();
        self
    }

    /// Adds a row; each cell is made safe (and free text shortened).
    pub fn row<S: AsRef<str>>(&mut self, cells: &[S]) {
        let row = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let free_text = self.headers.get(i).is_some_and(|h| self.cut.contains(h));
                if free_text {
                    fit(c.as_ref(), MAX_CELL)
                } else {
                    safe(c.as_ref()).into_owned()
                }
            })
            .collect();
        self.rows.push(row);
    }

    /// The table as text, one line per row, widths from the content.
    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.width()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                if let Some(w) = widths.get_mut(i) {
                    *w = (*w).max(cell.width());
                }
            }
        }
        let mut out = String::new();
        let headers: Vec<String> = self.headers.iter().map(|h| (*h).to_owned()).collect();
        for row in std::iter::once(&headers).chain(&self.rows) {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                if i + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    let pad = widths
                        .get(i)
                        .copied()
                        .unwrap_or(0)
                        .saturating_sub(cell.width())
                        + 2;
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    /// Prints the table.
    pub fn print(&self) -> anyhow::Result<()> {
        crate::cli::out::out!("{}", self.render())
    }
}

/// A string field of a JSON object, or `default`.
pub fn text<'a>(v: &'a Value, key: &str, default: &'a str) -> &'a str {
    v[key].as_str().unwrap_or(default)
}

/// A JSON array of strings, space-separated.
pub fn words(v: &Value) -> String {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_fit_wide_names_by_display_width() {
        let mut t = Table::new(&["ID", "NAME", "STATUS"]).shorten(&["NAME"]);
        t.row(&["ak_1", "ノートパソコン", "enabled"]);
        t.row(&["ak_2", "laptop", "disabled"]);
        let text = t.render();
        let starts: Vec<usize> = text
            .lines()
            .map(|l| {
                let at = l.find(['e', 'd', 'S']).expect("status column");
                l[..at].width()
            })
            .collect();
        assert!(starts.iter().all(|s| *s == starts[0]), "{text}");
        assert_eq!(
            starts[0],
            "ak_1".len() + 2 + "ノートパソコン".width() + 2,
            "{text}"
        );
    }

    #[test]
    fn only_free_text_columns_are_shortened() {
        let fp = format!("SHA256:{}", "a".repeat(43));
        let long = "n".repeat(60);
        let mut t = Table::new(&["NAME", "FINGERPRINT"]).shorten(&["NAME"]);
        t.row(&[long.as_str(), fp.as_str()]);
        let text = t.render();
        assert!(text.contains(&fp) && !text.contains(&long), "{text}");
    }

    #[test]
    fn long_cells_are_cut_with_an_ellipsis_and_unsafe_ones_escaped() {
        let long = "名".repeat(50);
        let cut = fit(&long, MAX_CELL);
        assert!(cut.ends_with('…') && cut.width() <= MAX_CELL, "{cut}");
        assert_eq!(fit("a\u{202e}b", 40), "a\\u{202e}b");
        assert_eq!(fit("short", 40), "short");
    }
}
