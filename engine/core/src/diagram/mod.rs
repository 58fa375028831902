//! The process map (附件3 流程图), drawn from the definition itself so it is always in
//! step with the YAML: steps as boxes in one swimlane per department (plus one for
//! automatic steps), conditions and outcomes on the edges, splits and joins as gateways,
//! loops as dashed edges back up, end results in their own colours.
//!
//! [`layout`] computes the geometry (exposed so tests can check that nothing overlaps);
//! [`svg`] draws the plain map and [`case_svg`] a case's map with where it is, the path it
//! took and who did each step. The SVG is self-contained and every text is escaped:
//! definitions are written by people outside the engine.

mod layout;
mod svg;
mod text;

pub use layout::{BoxGeom, EdgeGeom, Lane, Layout, Rect, Shape, layout, layout_with_notes};
pub use svg::{Mark, Marks};

use std::collections::HashMap;

use crate::definition::{Process, StepId};

/// The map's title: the definition's name, id and version.
fn title(process: &Process) -> String {
    format!(
        "{} 流程图（{} 第 {} 版）",
        process.name, process.id, process.version
    )
}

/// What tells this map's marker ids from another's on the same page.
fn key(process: &Process) -> String {
    format!("{}-v{}", process.id, process.version)
}

/// The plain map of a definition as an SVG document.
pub fn svg(process: &Process) -> String {
    svg::render(&layout(process), &title(process), &key(process), None)
}

/// A case's map: `marks` says which steps are done, current or skipped and which edges
/// the case took; `notes` adds small lines to boxes (the clerk and time of a done step).
pub fn case_svg(process: &Process, marks: &Marks, notes: &HashMap<StepId, Vec<String>>) -> String {
    svg::render(
        &layout_with_notes(process, notes),
        &title(process),
        &format!("case-{}", key(process)),
        Some(marks),
    )
}
