//! Charts drawn by Leptos as inline SVG (no chart library, no script of
//! their own): a line chart with a legend of the latest values. They redraw when
//! their data signal changes, so a page that appends points sees them move.
//!
//! Guarantees: each chart is an image with a text alternative (its title
//! and latest values), the scale starts at zero and fits the largest value,
//! and an empty series draws a quiet "no data yet" instead of a broken line.

use leptos::prelude::*;

/// One line: its label, its colour (a Tailwind stroke class and the matching
/// background class for the legend) and its points (x: time in ms, y ≥ 0).
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub label: String,
    pub colour: Colour,
    pub points: Vec<(f64, f64)>,
}

/// The colours a chart uses (spelled out so Tailwind keeps the classes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Colour {
    Indigo,
    Emerald,
    Amber,
    Red,
    Sky,
}

impl Colour {
    fn stroke(self) -> &'static str {
        match self {
            Colour::Indigo => "stroke-indigo-500",
            Colour::Emerald => "stroke-emerald-500",
            Colour::Amber => "stroke-amber-500",
            Colour::Red => "stroke-red-500",
            Colour::Sky => "stroke-sky-500",
        }
    }
    fn swatch(self) -> &'static str {
        match self {
            Colour::Indigo => "bg-indigo-500",
            Colour::Emerald => "bg-emerald-500",
            Colour::Amber => "bg-amber-500",
            Colour::Red => "bg-red-500",
            Colour::Sky => "bg-sky-500",
        }
    }
}

const WIDTH: f64 = 300.0;
const HEIGHT: f64 = 80.0;

/// The polyline points of `points` scaled into the chart box.
pub fn polyline(points: &[(f64, f64)], x_range: (f64, f64), y_max: f64) -> String {
    let (x0, x1) = x_range;
    let span = (x1 - x0).max(1.0);
    let top = y_max.max(f64::MIN_POSITIVE);
    points
        .iter()
        .map(|(x, y)| {
            let px = if points.len() == 1 {
                WIDTH
            } else {
                (x - x0) / span * WIDTH
            };
            let py = HEIGHT - (y / top).clamp(0.0, 1.0) * (HEIGHT - 2.0) - 1.0;
            format!("{px:.1},{py:.1}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn bounds(series: &[Series]) -> Option<((f64, f64), f64)> {
    let all = series.iter().flat_map(|s| s.points.iter());
    let mut seen = false;
    let (mut x0, mut x1, mut y1) = (f64::MAX, f64::MIN, 0.0f64);
    for (x, y) in all {
        seen = true;
        x0 = x0.min(*x);
        x1 = x1.max(*x);
        y1 = y1.max(*y);
    }
    seen.then_some(((x0, x1), y1))
}

/// A line chart with a legend of each series' latest value.
#[component]
pub fn LineChart(
    #[prop(into)] title: String,
    #[prop(into)] series: Signal<Vec<Series>>,
    /// Formats a value for the scale and the legend.
    format: fn(f64) -> String,
    #[prop(into, optional)] testid: String,
) -> impl IntoView {
    let label = title.clone();
    let summary = move || {
        let parts: Vec<String> = series
            .get()
            .iter()
            .map(|s| match s.points.last() {
                Some((_, y)) => format!("{} {}", s.label, format(*y)),
                None => format!("{} no data", s.label),
            })
            .collect();
        format!("{label}: latest {}", parts.join(", "))
    };
    let drawing = move || {
        let all = series.get();
        match bounds(&all) {
            None => view! {
                <text x="150" y="44" text-anchor="middle" class="fill-slate-400 text-[10px]">"No data yet"</text>
            }
            .into_any(),
            Some((x_range, y_max)) => all
                .into_iter()
                .map(|s| {
                    let points = polyline(&s.points, x_range, y_max);
                    view! {
                        <polyline
                            points=points
                            fill="none"
                            stroke-width="1.5"
                            stroke-linejoin="round"
                            vector-effect="non-scaling-stroke"
                            class=s.colour.stroke()
                        />
                    }
                })
                .collect_view()
                .into_any(),
        }
    };
    let scale = move || {
        let top = bounds(&series.get()).map(|(_, y)| y).unwrap_or(0.0);
        format(top)
    };
    let legend = move || {
        series
            .get()
            .into_iter()
            .map(|s| {
                let latest = s
                    .points
                    .last()
                    .map(|(_, y)| format(*y))
                    .unwrap_or_else(|| "—".into());
                view! {
                    <li class="flex items-center gap-1.5">
                        <span class=format!("inline-block h-2 w-3 rounded-sm {}", s.colour.swatch()) aria-hidden="true"></span>
                        <span>{s.label}</span>
                        <span class="font-mono text-slate-700 dark:text-slate-200">{latest}</span>
                    </li>
                }
            })
            .collect_view()
    };
    view! {
        <figure class="space-y-1" data-testid=testid>
            <figcaption class="flex items-baseline justify-between text-xs font-medium text-slate-600 dark:text-slate-300">
                <span>{title}</span>
                <span class="font-mono text-[11px] text-slate-400" aria-hidden="true">{move || format!("max {}", scale())}</span>
            </figcaption>
            <svg
                viewBox="0 0 300 80"
                preserveAspectRatio="none"
                role="img"
                aria-label=summary
                class="h-20 w-full rounded border border-slate-200 bg-slate-50 dark:border-slate-800 dark:bg-slate-950"
            >
                <line x1="0" y1="79" x2="300" y2="79" class="stroke-slate-300 dark:stroke-slate-700" stroke-width="1" vector-effect="non-scaling-stroke"/>
                {drawing}
            </svg>
            <ul class="flex flex-wrap gap-x-3 gap-y-0.5 text-[11px] text-slate-500 dark:text-slate-400">{legend}</ul>
        </figure>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_fill_the_box_from_zero() {
        let line = polyline(&[(0.0, 0.0), (10.0, 5.0), (20.0, 10.0)], (0.0, 20.0), 10.0);
        assert_eq!(line, "0.0,79.0 150.0,40.0 300.0,1.0");
        // A single point sits at the right edge; an all-zero series stays on the floor.
        assert_eq!(polyline(&[(5.0, 0.0)], (5.0, 5.0), 0.0), "300.0,79.0");
        assert!(bounds(&[]).is_none());
    }
}
