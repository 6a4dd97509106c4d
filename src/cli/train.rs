//! `sgdstab train`: train a small network to interpolation and export its gradients.

use super::common::{parse_list, Bar, List};
use sgdstab::datasets::{DatasetKind, DatasetSpec};
use sgdstab::network::{Activation, Architecture, Mlp};
use sgdstab::training::{TrainOptions, TrainingRun};
use std::path::PathBuf;
use std::process::ExitCode;

/// Network, data and SGD settings shared by `train`, `sweep` and `demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct NetArgs {
    /// Built-in data set: circle, torus (manifolds rotated into R^d), thick-torus (the torus plus
    /// a ball offset: full-dimensional), gaussian, iris (real, d = 3).
    #[arg(long, value_name = "NAME", default_value = "torus")]
    pub dataset: DatasetKind,
    /// Number of training points n.
    #[arg(long = "n", value_name = "N", default_value_t = 16)]
    pub n: usize,
    /// Ambient input dimension d (synthetic sets).
    #[arg(long = "dim", value_name = "D", default_value_t = 8)]
    pub dim: usize,
    /// Seed of the data set.
    #[arg(long = "data-seed", value_name = "SEED", default_value_t = 0)]
    pub data_seed: u64,
    /// Hidden widths, e.g. 32 or 32,32.
    #[arg(long, value_name = "WIDTHS", default_value = "32", value_parser = parse_list)]
    pub hidden: List,
    /// Activation: tanh, relu, softplus or gelu.
    #[arg(long, value_name = "NAME", default_value = "tanh")]
    pub activation: Activation,
    /// Iteration limit of SGD.
    #[arg(long = "max-iter", value_name = "N", default_value_t = sgdstab::training::DEFAULT_MAX_ITERATIONS)]
    pub max_iter: usize,
    /// Interpolation threshold on the training loss (1/2n) Σ (f − y)².
    #[arg(long = "loss-threshold", value_name = "L", default_value_t = sgdstab::training::DEFAULT_LOSS_THRESHOLD, allow_negative_numbers = true)]
    pub loss_threshold: f64,
}

impl NetArgs {
    /// The data set specification.
    pub fn spec(&self) -> DatasetSpec {
        DatasetSpec {
            kind: self.dataset,
            n: self.n,
            dim: self.dim,
            seed: self.data_seed,
        }
    }

    /// The architecture for inputs of dimension `d`.
    pub fn architecture(&self, d: usize) -> anyhow::Result<Architecture> {
        Ok(Architecture::new(
            d,
            self.hidden.0.clone(),
            self.activation,
        )?)
    }
}

/// Arguments of `train`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    net: NetArgs,
    /// Learning rate η of SGD.
    #[arg(
        long = "lr",
        value_name = "ETA",
        default_value_t = 0.1,
        allow_negative_numbers = true
    )]
    lr: f64,
    /// Batch size B (batches drawn without replacement).
    #[arg(long = "batch", value_name = "B", default_value_t = 4)]
    batch: usize,
    /// Seed of the initialisation (the batch draws use --sgd-seed, default the same).
    #[arg(long, value_name = "SEED", default_value_t = 0)]
    seed: u64,
    /// Seed of the batch draws (default: --seed).
    #[arg(long = "sgd-seed", value_name = "SEED")]
    sgd_seed: Option<u64>,
    /// Write grads.npy, xgrads.npy, x.npy, y.npy, outputs.npy, w1.npy, params.npy and meta.json here.
    #[arg(long, value_name = "DIR")]
    export: Option<PathBuf>,
    /// Exit with code 1 if training did not reach the interpolation threshold.
    #[arg(long)]
    strict: bool,
    /// Print meta.json on stdout instead of the summary.
    #[arg(long)]
    json: bool,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

/// A trained network with everything needed to export it.
pub struct Trained {
    pub net: Mlp,
    pub data: sgdstab::datasets::Dataset,
    pub run: TrainingRun,
    pub meta: sgdstab::export::ExportMeta,
    pub per_sample: sgdstab::network::PerSample,
}

/// Trains on the data set of `net` with `(lr, batch)`.
pub fn train_network(
    net: &NetArgs,
    lr: f64,
    batch: usize,
    seed: u64,
    sgd_seed: u64,
    bar: &Bar,
) -> anyhow::Result<Trained> {
    sgdstab::analysis::check_lr(lr)?;
    let spec = net.spec();
    let data = sgdstab::datasets::generate(&spec)?;
    let arch = net.architecture(data.d)?;
    let mut model = Mlp::init(arch, seed);
    let opts = TrainOptions {
        max_iterations: net.max_iter,
        loss_threshold: net.loss_threshold,
        seed: sgd_seed,
        ..TrainOptions::new(lr, batch)
    };
    let run = sgdstab::training::train(&mut model, &data, &opts, bar)?;
    let per_sample = model.per_sample(&data.x, data.n);
    let meta = sgdstab::export::ExportMeta::new(&model, &data, Some(spec), seed, &run);
    Ok(Trained {
        net: model,
        data,
        run,
        meta,
        per_sample,
    })
}

/// One paragraph about a training run.
pub fn summary(t: &Trained) -> String {
    let m = &t.meta;
    let mut s = format!(
        "trained {} ({} parameters) on {}\n  SGD η = {}, B = {}, seeds init {} / batches {}: {} iterations, loss {:.3e} → {:.3e}\n",
        m.architecture_text,
        m.parameters,
        m.dataset,
        m.lr,
        m.batch,
        m.init_seed,
        m.sgd_seed,
        m.iterations,
        m.initial_loss,
        m.final_loss
    );
    match t.run.stop {
        sgdstab::training::Stop::Interpolated => s.push_str(&format!(
            "  interpolation reached (loss < {:.0e})\n",
            m.loss_threshold
        )),
        sgdstab::training::Stop::MaxIterations => s.push_str(&format!(
            "  WARNING: interpolation NOT reached: loss {:.3e} >= threshold {:.0e} after the iteration limit (raise --max-iter or change --lr)\n",
            m.final_loss, m.loss_threshold
        )),
        sgdstab::training::Stop::Diverged => s.push_str(&format!(
            "  WARNING: SGD DIVERGED at iteration {} (loss {:.3e}): η = {} is above the edge of stability for this network\n",
            m.iterations, m.final_loss, m.lr
        )),
    }
    let norms: Vec<String> = m
        .checkpoints
        .iter()
        .map(|c| format!("{}: {:.4}", c.iteration, c.w1_spectral_norm))
        .collect();
    s.push_str(&format!("  ‖W_1‖_2 at iterations {}\n", norms.join(", ")));
    s
}

/// Runs `train`.
pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let bar = Bar::new(a.quiet);
    let t = train_network(
        &a.net,
        a.lr,
        a.batch,
        a.seed,
        a.sgd_seed.unwrap_or(a.seed),
        &bar,
    )?;
    if t.run.stop == sgdstab::training::Stop::Diverged {
        anyhow::bail!(sgdstab::Error::parameter(
            "--lr",
            a.lr,
            format!(
                "SGD diverged at iteration {} (loss {:.3e}): the learning rate is above the edge of stability for this network; nothing exported",
                t.run.iterations, t.run.final_loss
            )
        ));
    }
    if let Some(dir) = &a.export {
        sgdstab::export::write_export(dir, &t.net, &t.data, &t.per_sample, &t.meta)?;
    }
    if a.json {
        print!("{}", sgdstab::report::to_json(&t.meta)?);
    } else {
        print!("{}", summary(&t));
        if let Some(dir) = &a.export {
            println!(
                "  exported to {} (analyze with: sgdstab analyze {} --lr {} --batch {} --order 1..4)",
                dir.display(),
                dir.join("grads.npy").display(),
                t.meta.lr,
                t.meta.batch
            );
        }
    }
    if !t.run.interpolated() {
        eprintln!(
            "sgdstab: warning: training stopped without reaching interpolation ({}, loss {:.3e})",
            t.run.stop.name(),
            t.run.final_loss
        );
        if a.strict {
            return Ok(ExitCode::from(1));
        }
    }
    Ok(ExitCode::SUCCESS)
}
