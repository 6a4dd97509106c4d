//! The library entry point: a `Problem` built from borrowed views (f32 and f64; C order, Fortran
//! order, strided; per-parameter dictionaries) gives the numbers of the owned-matrix path on the
//! same values, to rounding (bit for bit for a row-major f64 view); bad views are typed errors;
//! the column layout of a dictionary and the loss-gradient warning reach the reports.

use crate::common::Rng;
use serde_json::Value;
use sgdstab::{
    AnalyzeOptions, DiagramOptions, Error, GradientView, Gradients, Hooks, NamedView, Param,
    Problem, ProblemOptions, Sampling, ThresholdOptions, WarningKind,
};

/// Every number of `a` within `tol` (relative to the larger magnitude, plus `tol` absolute) of
/// `b`, every other value equal; `input` is skipped.
fn assert_close(a: &Value, b: &Value, tol: f64, path: &str) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            assert_eq!(
                x.keys().collect::<Vec<_>>(),
                y.keys().collect::<Vec<_>>(),
                "{path}"
            );
            for (k, v) in x {
                if k != "input" {
                    assert_close(v, &y[k], tol, &format!("{path}.{k}"));
                }
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{path}");
            for (i, (u, v)) in x.iter().zip(y).enumerate() {
                assert_close(u, v, tol, &format!("{path}[{i}]"));
            }
        }
        (Value::Number(x), Value::Number(y)) => {
            let (u, v) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!(
                (u - v).abs() <= tol * (1.0 + u.abs().max(v.abs())),
                "{path}: {u:e} vs {v:e}"
            );
        }
        (x, y) => assert_eq!(x, y, "{path}"),
    }
}

fn json<T: serde::Serialize>(r: &T) -> Value {
    serde_json::to_value(r).unwrap()
}

/// analyze (k = 1..3), thresholds (k = 1, 2) and the diagram of a problem, as JSON.
fn reports(p: &Problem, lr: f64, b: usize) -> Vec<Value> {
    let h = Hooks::none();
    vec![
        json(
            &p.analyze(lr, b, &AnalyzeOptions::default().orders([1, 2, 3]), h)
                .unwrap(),
        ),
        json(&p.thresholds(b, &ThresholdOptions::default(), h).unwrap()),
        json(
            &p.diagram(&DiagramOptions::default().batches([1, b]), h)
                .unwrap(),
        ),
    ]
}

fn owned(rows: &[Vec<f64>], popts: &ProblemOptions) -> Problem {
    let g = Gradients::from_rows(rows).unwrap();
    Problem::from_gradients(&g, popts, Hooks::none()).unwrap()
}

/// Shapes covering every reduction: wide (row Gram), tall full rank (identity), tall
/// rank-deficient (column Gram).
fn cases() -> Vec<(Vec<Vec<f64>>, &'static str)> {
    let mut rng = Rng::new(77);
    let wide = rng.matrix(5, 9);
    let tall = rng.matrix(7, 3);
    let mut deficient = rng.matrix(8, 4);
    for r in deficient.iter_mut() {
        r[3] = r[0] - 2.0 * r[1]; // rank 3
    }
    vec![
        (wide, "wide"),
        (tall, "tall full rank"),
        (deficient, "tall rank-deficient"),
    ]
}

#[test]
fn f32_views_in_any_layout_equal_the_rounded_owned_matrix() {
    let popts = ProblemOptions::default()
        .max_order(3)
        .sampling(Sampling::WithReplacement);
    for (rows, name) in cases() {
        let (n, w) = (rows.len(), rows[0].len());
        let rounded: Vec<Vec<f64>> = rows
            .iter()
            .map(|r| r.iter().map(|&x| x as f32 as f64).collect())
            .collect();
        let want = reports(&owned(&rounded, &popts), 0.05, 2);
        let c: Vec<f32> = rows.iter().flatten().map(|&x| x as f32).collect();
        let f: Vec<f32> = (0..n * w).map(|t| rows[t % n][t / n] as f32).collect();
        // a strided view: every other row and every third column of a larger buffer, offset
        let (rs, cs) = (2 * 3 * w + 5, 3);
        let mut big = vec![f32::NAN; (n - 1) * rs + (w - 1) * cs + 4];
        for (i, r) in rows.iter().enumerate() {
            for (j, &x) in r.iter().enumerate() {
                big[2 + i * rs + j * cs] = x as f32;
            }
        }
        let views = [
            ("C order", GradientView::f32_row_major(&c, n, w)),
            ("Fortran order", GradientView::f32_column_major(&f, n, w)),
            (
                "strided",
                GradientView::F32 {
                    data: &big[2..],
                    n,
                    w,
                    row_stride: rs,
                    col_stride: cs,
                },
            ),
        ];
        for (layout, v) in views {
            let p = Problem::from_view(v, &popts, Hooks::none()).unwrap();
            assert_eq!(p.rank(), owned(&rounded, &popts).rank(), "{name}, {layout}");
            for (a, b) in reports(&p, 0.05, 2).iter().zip(&want) {
                assert_close(a, b, 1e-10, &format!("{name}, {layout}"));
            }
        }
    }
}

#[test]
fn f64_views_equal_the_owned_matrix() {
    let popts = ProblemOptions::default().max_order(3);
    for (rows, name) in cases() {
        let (n, w) = (rows.len(), rows[0].len());
        let want = reports(&owned(&rows, &popts), 0.1, 3);
        // row-major: the in-memory path, bit for bit
        let c: Vec<f64> = rows.concat();
        let p = Problem::from_view(GradientView::f64_row_major(&c, n, w), &popts, Hooks::none())
            .unwrap();
        assert_eq!(reports(&p, 0.1, 3), want, "{name}: row-major f64");
        // Fortran order and a padded row stride
        let f: Vec<f64> = (0..n * w).map(|t| rows[t % n][t / n]).collect();
        let mut padded = vec![f64::NAN; n * (w + 2)];
        for (i, r) in rows.iter().enumerate() {
            padded[i * (w + 2)..i * (w + 2) + w].copy_from_slice(r);
        }
        let views = [
            GradientView::f64_column_major(&f, n, w),
            GradientView::F64 {
                data: &padded,
                n,
                w,
                row_stride: w + 2,
                col_stride: 1,
            },
        ];
        for v in views {
            let p = Problem::from_view(v, &popts, Hooks::none()).unwrap();
            for (a, b) in reports(&p, 0.1, 3).iter().zip(&want) {
                assert_close(a, b, 1e-11, name);
            }
        }
    }
}

#[test]
fn a_dictionary_of_views_equals_the_concatenation_and_reports_its_layout() {
    let mut rng = Rng::new(5);
    let n = 6;
    let w1 = rng.matrix(n, 8); // parameter "layer.weight" of shape (2, 4)
    let b1 = rng.matrix(n, 2); // "layer.bias" of shape (2,)
    let v = rng.matrix(n, 1); // "out" scalar
    let rows: Vec<Vec<f64>> = (0..n)
        .map(|i| [w1[i].clone(), b1[i].clone(), v[i].clone()].concat())
        .collect();
    let popts = ProblemOptions::default().max_order(3).input("a dict");
    let want = reports(&owned(&rows, &popts), 0.05, 3);
    let w1c: Vec<f64> = w1.concat();
    let b1f: Vec<f32> = b1.iter().flatten().map(|&x| x as f32).collect();
    let vc: Vec<f64> = v.concat();
    let parts = [
        NamedView {
            name: "layer.weight".into(),
            shape: vec![2, 4],
            view: GradientView::f64_row_major(&w1c, n, 8),
        },
        NamedView {
            name: "layer.bias".into(),
            shape: vec![2],
            view: GradientView::f32_row_major(&b1f, n, 2),
        },
        NamedView {
            name: "out".into(),
            shape: vec![],
            view: GradientView::f64_row_major(&vc, n, 1),
        },
    ];
    // the f32 part rounds its values: compare with the same rounding in the owned matrix
    let rounded: Vec<Vec<f64>> = rows
        .iter()
        .map(|r| {
            r.iter()
                .enumerate()
                .map(|(j, &x)| {
                    if (8..10).contains(&j) {
                        x as f32 as f64
                    } else {
                        x
                    }
                })
                .collect()
        })
        .collect();
    let want_rounded = reports(&owned(&rounded, &popts), 0.05, 3);
    let p = Problem::from_views(&parts, &popts, Hooks::none()).unwrap();
    let got = reports(&p, 0.05, 3);
    for (a, b) in got.iter().zip(&want_rounded) {
        let mut a = a.clone();
        if let Some(o) = a.as_object_mut() {
            if o.contains_key("column_layout") {
                o.insert("column_layout".into(), Value::Null);
            }
        }
        assert_close(&a, b, 1e-10, "dictionary");
    }
    assert_ne!(want, want_rounded, "the f32 part changed the numbers");
    // the layout, in the given order, in the analyze and threshold reports
    for r in &got[..2] {
        let layout = &r["column_layout"];
        let names: Vec<&str> = layout
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["layer.weight", "layer.bias", "out"]);
        assert_eq!(layout[1]["offset"], 8);
        assert_eq!(layout[1]["columns"], 2);
        assert_eq!(layout[0]["shape"], serde_json::json!([2, 4]));
        assert_eq!(layout[2]["shape"], serde_json::json!([]));
        assert_eq!(r["input"], "a dict");
    }
    // the Theorem 2 maximiser maps back into one parameter
    let j = got[0]["orders"][0]["theorem2"]["argmax_coordinate"]
        .as_u64()
        .unwrap() as usize;
    let owner = p
        .column_layout()
        .unwrap()
        .iter()
        .find(|b| (b.offset..b.offset + b.columns).contains(&j));
    assert!(owner.is_some(), "coordinate {j}");
}

#[test]
fn bad_views_are_typed_errors() {
    let data = [1.0f32; 12];
    let popts = ProblemOptions::default();
    let h = Hooks::none();
    // reaching past the buffer
    let v = GradientView::F32 {
        data: &data,
        n: 4,
        w: 4,
        row_stride: 4,
        col_stride: 1,
    };
    let e = Problem::from_view(v, &popts, h).unwrap_err();
    assert!(matches!(e, Error::InvalidInput { .. }), "{e}");
    assert!(e.to_string().contains("past its buffer"), "{e}");
    // empty
    let e = Problem::from_view(GradientView::f32_row_major(&data, 0, 3), &popts, h).unwrap_err();
    assert!(e.to_string().contains("0 × 3"), "{e}");
    // NaN, named by row and column, in f32 and f64, C and Fortran order
    let mut bad = [0.5f32; 12];
    bad[2 * 4 + 1] = f32::NAN; // row 2, column 1 of a 3 × 4 C-order matrix
    let e = Problem::from_view(GradientView::f32_row_major(&bad, 3, 4), &popts, h).unwrap_err();
    assert!(e.to_string().contains("row 2, column 1"), "{e}");
    let mut badf = [0.5f64; 12];
    badf[2 + 3] = f64::INFINITY; // row 2 + column 1 × 3 rows: Fortran order, 3 × 4
    let e = Problem::from_view(GradientView::f64_column_major(&badf, 3, 4), &popts, h).unwrap_err();
    assert!(e.to_string().contains("row 2, column 1"), "{e}");
    let mut badc = [0.5f64; 12];
    badc[5] = f64::NAN;
    let e = Problem::from_view(GradientView::f64_row_major(&badc, 3, 4), &popts, h).unwrap_err();
    assert!(e.to_string().contains("row 1, column 1"), "{e}");
    // dictionaries: different sample axes, a shape that does not fit
    let a = [1.0f64; 6];
    let parts = [
        NamedView {
            name: "a".into(),
            shape: vec![2],
            view: GradientView::f64_row_major(&a, 3, 2),
        },
        NamedView {
            name: "b".into(),
            shape: vec![3],
            view: GradientView::f64_row_major(&a, 2, 3),
        },
    ];
    let e = Problem::from_views(&parts, &popts, h).unwrap_err();
    assert!(e.to_string().contains("mismatched batch sizes"), "{e}");
    let parts = [NamedView {
        name: "a".into(),
        shape: vec![5],
        view: GradientView::f64_row_major(&a, 3, 2),
    }];
    let e = Problem::from_views(&parts, &popts, h).unwrap_err();
    assert!(e.to_string().contains("shape [5]"), "{e}");
    // options: max_order, then requests beyond it
    let ok = GradientView::f64_row_major(&a, 3, 2);
    let e = Problem::from_view(ok, &popts.clone().max_order(0), h).unwrap_err();
    assert!(
        matches!(
            e,
            Error::InvalidParameter {
                param: Param::MaxOrder,
                ..
            }
        ),
        "{e}"
    );
    let p = Problem::from_view(ok, &popts.clone().max_order(2), h).unwrap();
    let e = p
        .analyze(0.1, 1, &AnalyzeOptions::default().orders([3]), h)
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::InvalidParameter {
                param: Param::Orders,
                ..
            }
        ) && e.to_string().contains("`max_order`"),
        "{e}"
    );
}

#[test]
fn library_validates_every_option_by_name() {
    let a = Gradients::from_rows(&[vec![1.0, 0.0], vec![0.0, 2.0], vec![1.0, 1.0]]).unwrap();
    let p = Problem::from_gradients(&a, &ProblemOptions::default(), Hooks::none()).unwrap();
    let h = Hooks::none();
    let param = |e: Error| match e {
        Error::InvalidParameter { param, .. } => param,
        other => panic!("{other}"),
    };
    let d = AnalyzeOptions::default();
    assert_eq!(
        param(p.analyze(0.0, 1, &d, h).unwrap_err()),
        Param::LearningRate
    );
    assert_eq!(
        param(p.analyze(f64::NAN, 1, &d, h).unwrap_err()),
        Param::LearningRate
    );
    assert_eq!(param(p.analyze(0.1, 0, &d, h).unwrap_err()), Param::Batch);
    assert_eq!(param(p.analyze(0.1, 4, &d, h).unwrap_err()), Param::Batch);
    assert_eq!(
        param(p.analyze(0.1, 1, &d.clone().orders([0]), h).unwrap_err()),
        Param::Orders
    );
    assert_eq!(
        param(
            p.analyze(0.1, 1, &d.clone().cone_tolerance(-1.0), h)
                .unwrap_err()
        ),
        Param::ConeTolerance
    );
    let bad_lanczos = sgdstab::SolverOptions::default().lanczos_tolerance(f64::INFINITY);
    assert_eq!(
        param(
            p.analyze(0.1, 1, &d.clone().solver(bad_lanczos.clone()), h)
                .unwrap_err()
        ),
        Param::Lanczos
    );
    let t = ThresholdOptions::default().solver(bad_lanczos);
    assert_eq!(param(p.thresholds(1, &t, h).unwrap_err()), Param::Lanczos);
    assert_eq!(
        param(
            p.diagram(&DiagramOptions::default().batches([]), h)
                .unwrap_err()
        ),
        Param::Batches
    );
    assert_eq!(
        param(
            p.diagram(&DiagramOptions::default().batches([1, 9]), h)
                .unwrap_err()
        ),
        Param::Batch
    );
    let e = Problem::from_gradients(&a, &ProblemOptions::default().rank_tolerance(Some(1.5)), h)
        .unwrap_err();
    assert_eq!(param(e), Param::RankTolerance);
}

#[test]
fn loss_gradients_are_flagged_in_the_reports() {
    // output gradients of a linear model with a bias: rows (x_i, 1)
    let mut rng = Rng::new(9);
    let (n, d) = (12, 4);
    let x = rng.matrix(n, d);
    let out: Vec<Vec<f64>> = x.iter().map(|r| [r.clone(), vec![1.0]].concat()).collect();
    // loss gradients at a least-squares minimum: r_i (x_i, 1) with residuals orthogonal to the
    // columns, so their mean (the full gradient) vanishes
    let a = nalgebra::DMatrix::from_fn(n, d + 1, |i, j| out[i][j]);
    let y = nalgebra::DVector::from_fn(n, |i, _| (i as f64).sin() * 3.0);
    let coef = a.clone().svd(true, true).solve(&y, 1e-14).unwrap();
    let resid = &a * coef - &y;
    let loss: Vec<Vec<f64>> = out
        .iter()
        .enumerate()
        .map(|(i, r)| r.iter().map(|v| v * resid[i]).collect())
        .collect();
    let h = Hooks::none();
    let popts = ProblemOptions::default();
    for (rows, flagged) in [(out, false), (loss, true)] {
        let p = owned(&rows, &popts);
        let ratio = p.mean_gradient_ratio().unwrap();
        let r = p.analyze(1e-3, 2, &AnalyzeOptions::default(), h).unwrap();
        let t = p.thresholds(2, &ThresholdOptions::default(), h).unwrap();
        for (warnings, ratio_in_report) in [
            (&r.warnings, r.mean_gradient_ratio),
            (&t.warnings, t.mean_gradient_ratio),
        ] {
            assert_eq!(ratio_in_report, Some(ratio));
            assert_eq!(
                warnings
                    .iter()
                    .any(|w| w.kind == WarningKind::LossGradients),
                flagged,
                "ratio {ratio:e}"
            );
        }
        if flagged {
            assert!(ratio < 1e-10, "{ratio:e}");
        } else {
            assert!(ratio > 0.1, "{ratio:e}");
        }
        let v = json(&r);
        assert_eq!(
            v["warnings"].as_array().unwrap().len(),
            usize::from(flagged)
        );
    }
}

#[test]
fn a_dictionary_file_reports_its_layout() {
    let f = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/jax_mlp_grads.npz");
    let p = Problem::from_file(&f, &ProblemOptions::default(), Hooks::none()).unwrap();
    let layout = p.column_layout().expect("an .npz is a dictionary");
    let mut offset = 0;
    for b in layout {
        assert_eq!(b.offset, offset);
        assert_eq!(b.columns, b.shape.iter().product::<usize>());
        offset += b.columns;
    }
    assert_eq!(offset, p.w());
    assert_eq!(p.input(), Some(f.display().to_string().as_str()));
    let r = p
        .analyze(0.5, 4, &AnalyzeOptions::default(), Hooks::none())
        .unwrap();
    assert_eq!(r.column_layout.as_deref(), Some(layout));
    // a single array has no layout
    let f = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/linear_regression.npy");
    let p = Problem::from_file(&f, &ProblemOptions::default(), Hooks::none()).unwrap();
    assert!(p.column_layout().is_none());
}
