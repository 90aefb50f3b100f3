//! The run's report: a markdown table and a JSON object per scenario, and
//! the chart of fan-out latency against the number of receivers.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;
use plotters::prelude::*;
use serde_json::{json, Map, Value};

#[derive(Default)]
pub struct Report {
    markdown: String,
    json: Map<String, Value>,
    /// (receivers, p50 ms, p99 ms) of the fan-out runs.
    pub fanout_points: Vec<(u64, f64, f64)>,
}

impl Report {
    /// A scenario's section: a heading, a note, and a table.
    pub fn section(
        &mut self,
        key: &str,
        title: &str,
        note: &str,
        header: &[&str],
        rows: &[Vec<String>],
        data: Value,
    ) {
        let _ = writeln!(self.markdown, "### {title}\n");
        if !note.is_empty() {
            let _ = writeln!(self.markdown, "{note}\n");
        }
        let _ = writeln!(self.markdown, "| {} |", header.join(" | "));
        let _ = writeln!(self.markdown, "|{}", "---|".repeat(header.len()));
        for row in rows {
            let _ = writeln!(self.markdown, "| {} |", row.join(" | "));
        }
        self.markdown.push('\n');
        self.json.insert(key.to_string(), data);
        // Each section is printed as soon as it is done: a long run shows progress.
        println!(
            "{}",
            self.markdown
                .rsplit("### ")
                .next()
                .map(|s| format!("### {s}"))
                .unwrap_or_default()
        );
    }

    pub fn write(&self, dir: &Path, machine: &str) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let mut md = format!("## Results\n\nMachine: {machine}\n\n");
        md.push_str(&self.markdown);
        if !self.fanout_points.is_empty() {
            md.push_str("![fan-out latency against receivers](fanout-latency.svg)\n");
            self.chart(&dir.join("fanout-latency.svg"))?;
        }
        std::fs::write(dir.join("report.md"), md)?;
        let mut json = self.json.clone();
        json.insert("machine".into(), json!(machine));
        std::fs::write(
            dir.join("report.json"),
            serde_json::to_string_pretty(&Value::Object(json))?,
        )?;
        Ok(())
    }

    fn chart(&self, path: &Path) -> anyhow::Result<()> {
        let points = &self.fanout_points;
        let max_x = points.iter().map(|p| p.0).max().unwrap_or(1) as f64 * 1.05;
        let max_y = points.iter().map(|p| p.2).fold(1.0, f64::max) * 1.15;
        let root = SVGBackend::new(path, (720, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Fan-out: send-to-receive latency", ("sans-serif", 20))
            .margin(16)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..max_x, 0f64..max_y)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        chart
            .configure_mesh()
            .x_desc("receivers in the channel")
            .y_desc("latency (ms)")
            .draw()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let series = [("p50", 1usize, BLUE), ("p99", 2usize, RED)];
        for (name, idx, color) in series {
            let data: Vec<(f64, f64)> = points
                .iter()
                .map(|p| (p.0 as f64, if idx == 1 { p.1 } else { p.2 }))
                .collect();
            chart
                .draw_series(LineSeries::new(data.clone(), color.stroke_width(2)))
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
            chart
                .draw_series(data.into_iter().map(|p| Circle::new(p, 4, color.filled())))
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        chart
            .configure_series_labels()
            .border_style(BLACK)
            .background_style(WHITE.mix(0.8))
            .draw()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        root.present().map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(())
    }
}

pub fn f1(v: f64) -> String {
    format!("{v:.1}")
}

pub fn int(v: f64) -> String {
    format!("{:.0}", v)
}
