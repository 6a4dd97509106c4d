//! `sgdstab train`: train a small network to interpolation and export its gradients.

use super::common::{parse_list, write_output, Bar, List};
use sgdstab::networks::datasets::{DatasetKind, DatasetSpec};
use sgdstab::networks::network::Activation;
use sgdstab::networks::pipeline::{train_network, NetworkSpec, Trained};
use std::path::PathBuf;
use std::process::ExitCode;

/// Network, data and SGD settings shared by `train` and `sweep`.
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
    #[arg(long = "max-iter", value_name = "N", default_value_t = sgdstab::networks::training::DEFAULT_MAX_ITERATIONS)]
    pub max_iter: usize,
    /// Interpolation threshold on the training loss (1/2n) Σ (f − y)².
    #[arg(
        long = "loss-threshold",
        value_name = "L",
        default_value = "1e-12",
        allow_negative_numbers = true
    )]
    pub loss_threshold: f64,
}

impl NetArgs {
    /// The library's network specification.
    pub fn spec(&self) -> NetworkSpec {
        NetworkSpec {
            data: DatasetSpec {
                kind: self.dataset,
                n: self.n,
                dim: self.dim,
                seed: self.data_seed,
            },
            hidden: self.hidden.0.clone(),
            activation: self.activation,
            max_iterations: self.max_iter,
            loss_threshold: self.loss_threshold,
        }
    }
}

/// Arguments of `train`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  sgdstab train --dataset torus --n 16 --lr 0.1 --batch 4 --export net"
)]
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
    /// Also write meta.json to this file (atomically).
    #[arg(long, value_name = "FILE.json")]
    out: Option<PathBuf>,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
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
        sgdstab::networks::training::Stop::Interpolated => s.push_str(&format!(
            "  interpolation reached (loss < {:.0e})\n",
            m.loss_threshold
        )),
        sgdstab::networks::training::Stop::MaxIterations => s.push_str(&format!(
            "  WARNING: interpolation NOT reached: loss {:.3e} >= threshold {:.0e} after the iteration limit (raise --max-iter or change --lr)\n",
            m.final_loss, m.loss_threshold
        )),
        sgdstab::networks::training::Stop::Diverged => s.push_str(&format!(
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
    if let Some(out) = &a.out {
        if sgdstab::plots::ImageFormat::from_path(out).is_ok() {
            anyhow::bail!(
                "--out = {}: --out writes the JSON report; this command draws no picture",
                out.display()
            );
        }
    }
    let bar = Bar::new(a.quiet);
    let t = train_network(
        &a.net.spec(),
        a.lr,
        a.batch,
        a.seed,
        a.sgd_seed.unwrap_or(a.seed),
        &bar,
    )?;
    if t.run.stop == sgdstab::networks::training::Stop::Diverged {
        anyhow::bail!(sgdstab::Error::parameter(
            sgdstab::Param::LearningRate,
            a.lr,
            format!(
                "SGD diverged at iteration {} (loss {:.3e}): the learning rate is above the edge of stability for this network; nothing exported",
                t.run.iterations, t.run.final_loss
            )
        ));
    }
    let json = sgdstab::report::to_json(&t.meta)?;
    // the export and --out together or not at all
    let dirs: Vec<&std::path::Path> = a.export.iter().map(|d| d.as_path()).collect();
    super::common::all_or_nothing(&dirs, || {
        if let Some(dir) = &a.export {
            sgdstab::networks::export::write_export(dir, &t.net, &t.data, &t.per_sample, &t.meta)?;
        }
        if let Some(out) = &a.out {
            write_output(out, &json)?;
        }
        Ok(())
    })?;
    if a.json {
        out!("{json}");
    } else {
        out!("{}", summary(&t));
        if let Some(dir) = &a.export {
            outln!(
                "  exported to {} (analyze with: sgdstab analyze {} --lr {} --batch {} --order 1,2)",
                dir.display(),
                dir.join("grads.npy").display(),
                t.meta.lr,
                t.meta.batch
            );
        }
    }
    if !t.run.interpolated() {
        warn_line!(
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        net: NetArgs,
    }

    #[test]
    fn flag_defaults_are_the_library_defaults() {
        // `demo` uses the library's NetworkSpec::default(); `train` and `sweep` these flags
        let net = Wrap::parse_from(["train"]).net;
        assert_eq!(net.spec(), NetworkSpec::default());
    }
}
