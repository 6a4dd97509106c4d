//! Delimited text matrices: one sample per line; fields separated by commas, tabs or
//! whitespace (detected per file from the first non-comment line); an optional header line (a
//! first line whose every field is a name: none is a number or starts like one, so a typo in the
//! first data row is an error, never a dropped sample); blank lines and lines starting with `#`
//! are skipped.
//!
//! Also accepted: Windows (`\r\n`) line endings, a UTF-8 byte-order mark, fields in double
//! quotes (`"1.5"`), and `nan`/`inf` spellings (which the gradient check then rejects with their
//! row and column). Every row must have as many fields as the first (header or data) line.

/// Parses text into `(n, w, row-major values)`.
pub fn parse(bytes: &[u8]) -> Result<(usize, usize, Vec<f64>), String> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let at = e.valid_up_to();
        let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        format!(
            "not a text file (invalid UTF-8 at byte {at}, line {line}); expected .npy, .npz, .safetensors or delimited text"
        )
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut data = Vec::new();
    let mut w: Option<usize> = None;
    let mut n = 0usize;
    let mut sep: Option<Sep> = None;
    let mut first = true;
    for (lineno, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let s = *sep.get_or_insert_with(|| Sep::detect(line));
        let fields: Vec<&str> = s.split(line);
        let parsed: Vec<Result<f64, &str>> = fields
            .iter()
            .map(|f| unquote(f.trim()).parse::<f64>().map_err(|_| *f))
            .collect();
        if first {
            first = false;
            if parsed.iter().any(|p| p.is_err()) {
                // a header only when every field is a name: a first line mixing numbers and
                // non-numbers, or with a field that looks like a mistyped number (`−1` with a
                // Unicode minus, `0x10`), is a data row with a bad field, not a header
                let data_like = fields.iter().any(|f| looks_numeric(unquote(f.trim())));
                let bad = parsed.iter().enumerate().find(|(_, p)| p.is_err());
                if let (true, Some((col, Err(f)))) = (data_like, bad) {
                    return Err(format!(
                        "line {}, field {}: '{}' is not a number{} (a header line needs every field non-numeric)",
                        lineno + 1,
                        col + 1,
                        f.trim(),
                        hint(unquote(f.trim()))
                    ));
                }
                // header line: remember its width
                w = Some(fields.len());
                continue;
            }
        }
        let expected = *w.get_or_insert(fields.len());
        if fields.len() != expected {
            return Err(format!(
                "line {} has {} fields, expected {expected}",
                lineno + 1,
                fields.len()
            ));
        }
        for (col, p) in parsed.into_iter().enumerate() {
            match p {
                Ok(v) => data.push(v),
                Err(f) => {
                    return Err(format!(
                        "line {}, field {}: '{}' is not a number{}",
                        lineno + 1,
                        col + 1,
                        f.trim(),
                        hint(unquote(f.trim()))
                    ))
                }
            }
        }
        n += 1;
    }
    if n == 0 {
        return Err("no data rows".into());
    }
    Ok((n, w.unwrap_or(0), data))
}

/// Whether a field of a first line rules out a header: a number, or text that starts like one
/// (a digit, a sign — ASCII or the Unicode minus U+2212 — or a decimal point followed by a digit).
fn looks_numeric(f: &str) -> bool {
    if f.parse::<f64>().is_ok() {
        return true;
    }
    let rest = f.strip_prefix(['+', '-', '\u{2212}']).unwrap_or(f);
    let rest = rest.strip_prefix('.').unwrap_or(rest);
    rest.starts_with(|c: char| c.is_ascii_digit())
}

/// A hint for the common mistypes of a number.
fn hint(f: &str) -> &'static str {
    if f.contains('\u{2212}') {
        " (U+2212 minus sign; write '-')"
    } else if f.starts_with("0x") || f.starts_with("0X") {
        " (hexadecimal is not accepted; write the decimal value)"
    } else {
        ""
    }
}

/// `"x"` → `x` (one pair of surrounding double quotes).
fn unquote(f: &str) -> &str {
    f.strip_prefix('"')
        .and_then(|g| g.strip_suffix('"'))
        .map_or(f, str::trim)
}

#[derive(Debug, Clone, Copy)]
enum Sep {
    Comma,
    Tab,
    Space,
}

impl Sep {
    fn detect(line: &str) -> Sep {
        if line.contains(',') {
            Sep::Comma
        } else if line.contains('\t') {
            Sep::Tab
        } else {
            Sep::Space
        }
    }

    fn split(self, line: &str) -> Vec<&str> {
        match self {
            Sep::Comma => line.split(',').collect(),
            Sep::Tab => line.split('\t').collect(),
            Sep::Space => line.split_whitespace().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_separators() {
        let (n, w, d) = parse(b"a,b\n1,2\n3,4\n").unwrap();
        assert_eq!((n, w, d), (2, 2, vec![1.0, 2.0, 3.0, 4.0]));
        let (n, w, _) = parse(b"# comment\n1\t2\t3\n\n4\t5\t6\n").unwrap();
        assert_eq!((n, w), (2, 3));
        let (n, w, _) = parse(b"1 2\n3 4\n").unwrap();
        assert_eq!((n, w), (2, 2));
    }

    #[test]
    fn errors() {
        assert!(parse(b"1,2\n3\n")
            .unwrap_err()
            .contains("line 2 has 1 fields"));
        assert!(parse(b"1,2\n3,x\n")
            .unwrap_err()
            .contains("'x' is not a number"));
        assert!(parse(b"a,b\n").unwrap_err().contains("no data rows"));
        assert!(parse(b"\xff\xfe").unwrap_err().contains("UTF-8"));
        assert!(parse(b"1,2\n3,\xff\n")
            .unwrap_err()
            .contains("byte 6, line 2"));
        assert!(parse(b"").unwrap_err().contains("no data rows"));
        assert!(parse(b"\n\n# only comments\n")
            .unwrap_err()
            .contains("no data rows"));
        assert!(parse(b"a,b,c\n1,2\n")
            .unwrap_err()
            .contains("line 2 has 2 fields, expected 3"));
    }

    #[test]
    fn a_mistyped_first_row_is_an_error_not_a_header() {
        for (text, field, bad) in [
            ("1,\u{2212}2\n3,4\n", 2, "'\u{2212}2'"),
            ("0x10,2\n3,4\n", 1, "'0x10'"),
            ("1,abc\n3,4\n", 2, "'abc'"),
            ("\u{2212}1 \u{2212}2\n3 4\n", 1, "'\u{2212}1'"),
            ("a,2\n3,4\n", 1, "'a'"),
            ("g0,.5x\n3,4\n", 1, "'g0'"),
        ] {
            let e = parse(text.as_bytes()).unwrap_err();
            assert!(
                e.starts_with(&format!("line 1, field {field}: {bad} is not a number")),
                "{text:?}: {e}"
            );
        }
        assert!(parse("1,\u{2212}2\n".as_bytes())
            .unwrap_err()
            .contains("U+2212"));
        // names, including ones with digits inside, are a header
        let (n, w, _) = parse(b"w0,layer1.b,x-2\n1,2,3\n").unwrap();
        assert_eq!((n, w), (1, 3));
    }

    #[test]
    fn windows_bom_quotes_and_blank_lines() {
        let (n, w, d) = parse(b"\xef\xbb\xbf1.5,2\r\n\r\n3,4e-1\r\n").unwrap();
        assert_eq!((n, w, d), (2, 2, vec![1.5, 2.0, 3.0, 0.4]));
        let (n, w, d) = parse(b"\"g0\",\"g1\"\n\"1\",\" 2 \"\n").unwrap();
        assert_eq!((n, w, d), (1, 2, vec![1.0, 2.0]));
        // a BOM before a header is not taken for data, nor data for a header
        let (n, _, _) = parse(b"\xef\xbb\xbfg0\tg1\n1\t2\n").unwrap();
        assert_eq!(n, 1);
        let (_, _, d) = parse(b"1,nan\n").unwrap();
        assert!(d[1].is_nan());
    }
}
