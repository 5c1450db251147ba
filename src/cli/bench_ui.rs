//! `wick bench ui`: frame time of the real app (layout and tessellation on the CPU, as every
//! frame pays them; GPU painting excluded) with several long runs overlaid in Runs while a
//! real run trains and feeds Monitor.

use anyhow::{Context as _, Result, bail};
use clap::Args;
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::app::{AppOptions, Tab, WickApp};
use crate::hub::HubSettings;
use crate::recipe::TrainConfig;
use crate::runs::RunDir;

#[derive(Args, Debug)]
pub struct UiBenchArgs {
    /// Finished runs to overlay in Runs.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Logged steps per overlaid run.
    #[arg(long, default_value_t = 100_000)]
    pub points: usize,
    /// Frames measured per panel.
    #[arg(long, default_value_t = 600)]
    pub frames: usize,
    /// Window size in points.
    #[arg(long, default_value_t = 1280.0)]
    pub width: f32,
    #[arg(long, default_value_t = 820.0)]
    pub height: f32,
}

pub fn ui(args: &UiBenchArgs) -> Result<()> {
    if args.runs == 0 || args.points == 0 || args.frames == 0 {
        bail!("--runs, --points and --frames must be at least 1");
    }
    let dir = tempfile::tempdir().context("creating a scratch folder")?;
    let runs_root = dir.path().join("runs");
    eprintln!(
        "writing {} runs of {} logged steps each…",
        args.runs, args.points
    );
    let mut overlaid = Vec::new();
    for index in 0..args.runs {
        overlaid.push(synthetic_run(&runs_root, index, args.points)?);
    }

    let ctx = egui::Context::default();
    let options = AppOptions {
        data_dir: dir.path().to_path_buf(),
        env_hub: HubSettings::with_home(&dir.path().join("hf")).with_offline(true),
        devices: vec!["cpu".into()],
    };
    let mut app = WickApp::new(&ctx, options, None);
    app.state.welcome_dismissed = true;

    // A real run keeps training (and sending events) through the whole measurement.
    let demo = crate::demo::materialize(&dir.path().join("demo"))?;
    let mut config = crate::demo::config(&demo);
    config.num_train_epochs = 10_000.0;
    config.logging_steps = 1;
    config.eval_strategy = crate::recipe::IntervalStrategy::Steps;
    config.eval_steps = Some(50);
    config.save_strategy = crate::recipe::SaveStrategy::No;
    config.load_best_model_at_end = false;
    if !app.start_training(config) {
        bail!("the training run did not start: {:?}", app.toasts().items());
    }

    let mut frame = Frame::new(&ctx, args.width, args.height);
    // Let the overlay load and the run reach its first steps.
    app.state.tab = Tab::Runs;
    app.state.runs.select_for_overlay(&overlaid);
    let ready_by = Instant::now() + Duration::from_secs(120);
    while !(app.state.runs.overlay_points() >= args.runs * args.points
        && app
            .state
            .monitor
            .live_run()
            .is_some_and(|r| r.train_loss.points.len() > 5))
    {
        frame.run(&mut app);
        if Instant::now() > ready_by {
            bail!(
                "the overlay ({} points) or the run ({:?}) did not get ready in 2 minutes",
                app.state.runs.overlay_points(),
                app.state
                    .monitor
                    .live_run()
                    .map(|r| r.train_loss.points.len())
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }

    let mut results = serde_json::Map::new();
    for tab in [Tab::Runs, Tab::Monitor] {
        app.state.tab = tab;
        for _ in 0..10 {
            frame.run(&mut app);
        }
        let mut times = Vec::with_capacity(args.frames);
        for _ in 0..args.frames {
            times.push(frame.run(&mut app));
            // ~60 frames per second, as a window would ask for while things change.
            std::thread::sleep(Duration::from_millis(16));
        }
        times.sort_by(f64::total_cmp);
        let pick = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
        let summary = json!({
            "p50_ms": pick(0.50),
            "p99_ms": pick(0.99),
            "max_ms": times[times.len() - 1],
        });
        eprintln!(
            "{:<8} p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
            tab.title(),
            pick(0.50),
            pick(0.99),
            times[times.len() - 1]
        );
        results.insert(tab.title().to_lowercase(), summary);
    }
    let steps = app
        .state
        .monitor
        .live_run()
        .map_or(0, |r| r.train_loss.points.len());
    println!(
        "{}",
        json!({
            "bench": "ui",
            "overlaid_runs": args.runs,
            "points_per_run": args.points,
            "frames": args.frames,
            "window": [args.width, args.height],
            "live_run_steps_seen": steps,
            "frame_ms": results,
            "target_p99_ms": 8.0,
        })
    );
    Ok(())
}

/// A headless frame: the app's layout plus tessellation, timed in milliseconds.
struct Frame {
    ctx: egui::Context,
    input: egui::RawInput,
}

impl Frame {
    fn new(ctx: &egui::Context, width: f32, height: f32) -> Self {
        let input = egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(
                egui::Pos2::ZERO,
                egui::vec2(width, height),
            )),
            ..Default::default()
        };
        Self {
            ctx: ctx.clone(),
            input,
        }
    }

    fn run(&mut self, app: &mut WickApp) -> f64 {
        let mut input = self.input.clone();
        input.time = Some(self.ctx.input(|i| i.time) + 0.016);
        let start = Instant::now();
        let output = self.ctx.run_ui(input, |ui| app.show(ui));
        let primitives = self.ctx.tessellate(output.shapes, output.pixels_per_point);
        let elapsed = start.elapsed().as_secs_f64() * 1e3;
        std::hint::black_box(primitives);
        elapsed
    }
}

/// A finished run folder with `points` logged steps and an evaluation every 1000 steps.
fn synthetic_run(root: &Path, index: usize, points: usize) -> Result<PathBuf> {
    let config = TrainConfig {
        model: format!("bench/model-{index}"),
        dataset: "bench/data".into(),
        learning_rate: 1e-5 * (index + 1) as f64,
        run_name: Some(format!("bench-{index}")),
        ..TrainConfig::default()
    };
    let dir = root.join(format!("bench-run-{index}"));
    let mut run = RunDir::create_at(&dir, &config)?;
    let file = std::fs::File::create(run.metrics_path())?;
    let mut out = std::io::BufWriter::new(file);
    let decay = 1.0 + index as f64 * 0.3;
    for step in 1..=points {
        let t = step as f64 / points as f64;
        let noise = ((step * 7919 + index * 104_729) % 1000) as f64 / 1000.0 - 0.5;
        let loss = 0.7 * (-3.0 * decay * t).exp() + 0.05 + 0.08 * noise;
        writeln!(
            out,
            "{}",
            json!({"loss": loss, "grad_norm": 1.0 + noise, "learning_rate": 5e-5 * (1.0 - t),
                   "epoch": 3.0 * t, "step": step, "wall_time": 1.7e9 + step as f64 * 0.2})
        )?;
        if step % 1000 == 0 {
            writeln!(
                out,
                "{}",
                json!({"eval_loss": loss + 0.05, "eval_accuracy": 0.9 - 0.2 * (-3.0 * t).exp(),
                       "epoch": 3.0 * t, "step": step, "wall_time": 1.7e9 + step as f64 * 0.2})
            )?;
        }
    }
    out.flush()?;
    run.finish(crate::runs::RunStatus::Finished, None)?;
    Ok(dir)
}
