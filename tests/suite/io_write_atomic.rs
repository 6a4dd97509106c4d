//! `write_atomic` / `write_atomic_with`: the target appears complete or not at all, an existing
//! target survives a failed write, and no temporary file is left behind.

use sgdstab::io::{write_atomic, write_atomic_with, write_npy};
use std::path::Path;

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn writes_and_replaces() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("out.json");
    write_atomic(&p, b"first").unwrap();
    assert_eq!(std::fs::read(&p).unwrap(), b"first");
    write_atomic(&p, b"second, longer").unwrap();
    assert_eq!(std::fs::read(&p).unwrap(), b"second, longer");
    assert_eq!(entries(dir.path()), ["out.json"]);
}

#[test]
fn failing_writer_leaves_old_content_and_no_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("report.csv");
    std::fs::write(&p, b"old complete content").unwrap();
    let e = write_atomic_with(&p, |w| {
        w.write_all(b"half of the new")?;
        Err(std::io::Error::other("interrupted"))
    })
    .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("report.csv") && msg.contains("interrupted"),
        "{msg}"
    );
    assert_eq!(std::fs::read(&p).unwrap(), b"old complete content");
    assert_eq!(entries(dir.path()), ["report.csv"]);
}

#[test]
fn failing_writer_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("plot.svg");
    assert!(write_atomic_with(&p, |w| {
        w.write_all(&[b'x'; 100_000])?;
        Err(std::io::Error::other("disk full"))
    })
    .is_err());
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn failing_rename_leaves_no_temp_file() {
    // the target is a non-empty directory: the temporary file is written, the rename fails
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("out.json");
    std::fs::create_dir(&p).unwrap();
    std::fs::write(p.join("keep"), b"x").unwrap();
    let e = write_atomic(&p, b"data").unwrap_err().to_string();
    assert!(e.contains("out.json"), "{e}");
    assert_eq!(entries(dir.path()), ["out.json"]);
    assert!(p.is_dir());
}

#[test]
fn a_name_of_255_bytes_can_be_written() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("r".repeat(250) + ".json");
    write_atomic(&p, b"ok").unwrap();
    assert_eq!(std::fs::read(&p).unwrap(), b"ok");
    assert_eq!(entries(dir.path()).len(), 1);
}

#[test]
fn missing_directory_is_an_error_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("no").join("such").join("out.json");
    let e = write_atomic(&p, b"data").unwrap_err().to_string();
    assert!(e.contains("out.json"), "{e}");
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn concurrent_writers_never_interleave() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("shared.bin");
    let contents: Vec<Vec<u8>> = (0..8u8).map(|t| vec![t; 200_000 + t as usize]).collect();
    std::thread::scope(|s| {
        for c in &contents {
            let p = &p;
            s.spawn(move || {
                for _ in 0..5 {
                    write_atomic(p, c).unwrap();
                }
            });
        }
    });
    let got = std::fs::read(&p).unwrap();
    assert!(
        contents.contains(&got),
        "the file is one writer's complete content"
    );
    assert_eq!(entries(dir.path()), ["shared.bin"]);
}

#[test]
fn exported_npy_is_read_back_by_ndarray_npy() {
    use ndarray_npy::ReadNpyExt;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.npy");
    let data: Vec<f64> = (0..12).map(|i| i as f64 / 3.0 - 1.0).collect();
    write_npy(&p, &[3, 4], &data).unwrap();
    let a = ndarray::Array2::<f64>::read_npy(std::fs::File::open(&p).unwrap()).unwrap();
    assert_eq!(a.shape(), &[3, 4]);
    assert_eq!(a.iter().copied().collect::<Vec<_>>(), data);
    // a shape that does not match is refused before anything is written
    let q = dir.path().join("b.npy");
    let e = write_npy(&q, &[5, 4], &data).unwrap_err().to_string();
    assert!(e.contains("b.npy") && e.contains("(5, 4)"), "{e}");
    assert_eq!(entries(dir.path()), ["a.npy"]);
}
