//! Terminal progress bars for long jobs (hidden automatically when stderr is not a terminal).

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::hub::{EventSink, HubEvent};

/// A bar counting `unit`s, with rate and ETA.
pub fn bar(total: u64, message: &str, unit: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    let template = format!(
        "{{msg:>12}} [{{bar:40.cyan/blue}}] {{pos}}/{{len}} {unit} {{per_sec}} ETA {{eta}}"
    );
    bar.set_style(
        ProgressStyle::with_template(&template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(message.to_string());
    bar
}

/// One indicatif bar per file, driven by `HubEvent`s.
pub struct DownloadBars {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl DownloadBars {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            multi: MultiProgress::new(),
            bars: Mutex::new(HashMap::new()),
        })
    }

    pub fn sink(self: &Arc<Self>) -> EventSink {
        let me = Arc::clone(self);
        Arc::new(move |event| me.on_event(event))
    }

    fn bar(&self, file: &str, total: Option<u64>) -> Option<ProgressBar> {
        let mut bars = self.bars.lock().ok()?;
        let bar = bars.entry(file.to_string()).or_insert_with(|| {
            let bar = self.multi.add(ProgressBar::new(total.unwrap_or(0)));
            let style = ProgressStyle::with_template(
                "{msg:30!} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.set_message(file.to_string());
            bar
        });
        if let Some(total) = total {
            bar.set_length(total);
        }
        Some(bar.clone())
    }

    fn on_event(&self, event: HubEvent) {
        match event {
            HubEvent::Started { file, total, .. } => {
                self.bar(&file, total);
            }
            HubEvent::Progress {
                file, bytes, total, ..
            } => {
                if let Some(bar) = self.bar(&file, total) {
                    bar.set_position(bytes);
                }
            }
            HubEvent::Resumed {
                file, from, total, ..
            } => {
                if let Some(bar) = self.bar(&file, Some(total)) {
                    bar.set_position(from);
                    bar.set_message(format!("{file} (resumed)"));
                }
            }
            HubEvent::CacheHit { file, .. } => {
                let _ = self.multi.println(format!("{file}: in cache"));
            }
            HubEvent::Finished { file, .. } => {
                if let Some(bar) = self.bar(&file, None) {
                    bar.finish();
                }
            }
        }
    }
}

/// A sink that draws download bars on stderr.
pub fn download_sink() -> EventSink {
    DownloadBars::new().sink()
}
