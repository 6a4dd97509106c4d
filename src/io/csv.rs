//! Delimited text matrices: one sample per line; fields separated by commas, tabs or
//! whitespace (detected per file from the first data line); an optional header line (a first
//! line with a non-numeric field); blank lines and lines starting with `#` are skipped.

/// Parses text into `(n, w, row-major values)`.
pub fn parse(bytes: &[u8]) -> Result<(usize, usize, Vec<f64>), String> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        format!(
            "not a text file (invalid UTF-8 at byte {}); expected .npy or delimited text",
            e.valid_up_to()
        )
    })?;
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
            .map(|f| f.trim().parse::<f64>().map_err(|_| *f))
            .collect();
        if first {
            first = false;
            if parsed.iter().any(|p| p.is_err()) {
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
                        "line {}, field {}: '{}' is not a number",
                        lineno + 1,
                        col + 1,
                        f.trim()
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
    }
}
