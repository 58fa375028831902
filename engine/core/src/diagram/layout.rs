//! A compact layered (Sugiyama-style) layout with swimlanes.
//!
//! The flow runs top to bottom: every department is a vertical lane, every layer a row.
//! Back edges (loops such as 补正 → 受理) are found by a depth-first walk from the start
//! and do not count for layering; layers are longest paths. Boxes share a row and lane
//! side by side, ordered by where their predecessors are (barycenter). Edges run in the
//! horizontal bands between rows (gutters) and, when they skip rows or go back up, in a
//! channel at the right of the target's lane, so no edge crosses a box. Labels sit in the
//! gutters, never on a box.

use std::collections::{HashMap, HashSet};

use super::text::{LABEL_FONT, NAME_FONT, NOTE_FONT, wrap};
use crate::definition::{Process, StepId, StepKind};

/// Width of every step box.
const BOX_W: f64 = 132.0;
/// Horizontal space between boxes of one lane.
const BOX_GAP: f64 = 26.0;
/// Padding inside a box above and below its text.
const BOX_PAD: f64 = 9.0;
/// Height of a lane's title band.
const LANE_TITLE: f64 = 46.0;
/// Space between a lane's left edge and its first box.
const LANE_PAD: f64 = 14.0;
/// Distance between parallel edge tracks.
const TRACK: f64 = 8.0;
/// Widest a label may be before it wraps.
const LABEL_MAX: f64 = 8.0 * LABEL_FONT;
/// Height of one line of label text.
const LABEL_LINE: f64 = LABEL_FONT + 2.0;
/// Space above the first row (the start marker).
const TOP: f64 = 30.0;

/// What a box stands for, which decides its shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A person decides (rounded box).
    Task,
    /// The engine computes (box with a double border).
    Auto,
    /// Exactly one branch (gateway ×).
    Choice,
    /// Every branch whose condition holds (gateway ○).
    MultiChoice,
    /// Every branch (gateway +).
    Parallel,
    /// Waits for the branches of a split (gateway +).
    Join,
    /// Waits for an event from outside (dashed box).
    Wait,
    /// The case ends (pill).
    End,
}

/// An axis-aligned rectangle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    /// Left.
    pub x: f64,
    /// Top.
    pub y: f64,
    /// Width.
    pub w: f64,
    /// Height.
    pub h: f64,
}

impl Rect {
    /// Whether the two rectangles share any area (touching edges do not count).
    pub fn overlaps(&self, other: &Rect) -> bool {
        self.x < other.x + other.w
            && other.x < self.x + self.w
            && self.y < other.y + other.h
            && other.y < self.y + self.h
    }

    fn center_x(&self) -> f64 {
        self.x + self.w / 2.0
    }
}

/// One swimlane.
#[derive(Debug, Clone)]
pub struct Lane {
    /// Department key, or empty for the lane of automatic steps.
    pub key: String,
    /// Title shown at the top.
    pub name: String,
    /// Where the lane is.
    pub rect: Rect,
}

/// Where one step is drawn.
#[derive(Debug, Clone)]
pub struct BoxGeom {
    /// The step.
    pub step: StepId,
    /// Its name as written in the definition.
    pub name: String,
    /// The name wrapped into lines.
    pub lines: Vec<String>,
    /// A small caption under the name (kind of gateway, end result), if any.
    pub caption: Option<String>,
    /// Extra small lines (on a case map: who did the step and when).
    pub notes: Vec<String>,
    /// Shape.
    pub shape: Shape,
    /// Where the box is.
    pub rect: Rect,
    /// Index into [`Layout::lanes`].
    pub lane: usize,
    /// Row, counted from the start.
    pub layer: usize,
}

/// One edge: a polyline with an optional label.
#[derive(Debug, Clone)]
pub struct EdgeGeom {
    /// From this step.
    pub from: StepId,
    /// To this step.
    pub to: StepId,
    /// Label text (outcome, condition, event), if any.
    pub label: Option<String>,
    /// The label wrapped into lines.
    pub label_lines: Vec<String>,
    /// Where the label is drawn.
    pub label_rect: Option<Rect>,
    /// The path, from the source box to the target box (arrow at the end).
    pub points: Vec<(f64, f64)>,
    /// Whether the edge goes back to an earlier row (a loop).
    pub back: bool,
    /// Whether the edge is the way out of a split when no branch is taken.
    pub fallback: bool,
}

/// The laid-out map of one definition.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Total width.
    pub width: f64,
    /// Total height.
    pub height: f64,
    /// Swimlanes, left to right.
    pub lanes: Vec<Lane>,
    /// Step boxes, in definition order.
    pub boxes: Vec<BoxGeom>,
    /// Edges.
    pub edges: Vec<EdgeGeom>,
    /// Where the start marker points from (above the start step).
    pub start: (f64, f64),
}

impl Layout {
    /// The box of a step.
    pub fn box_of(&self, step: &StepId) -> Option<&BoxGeom> {
        self.boxes.iter().find(|b| &b.step == step)
    }
}

/// A logical edge before layout.
struct Link {
    from: usize,
    to: usize,
    label: Option<String>,
    fallback: bool,
}

fn shape_of(kind: &StepKind) -> Shape {
    match kind {
        StepKind::Task(_) => Shape::Task,
        StepKind::Auto(_) => Shape::Auto,
        StepKind::Choice(_) => Shape::Choice,
        StepKind::MultiChoice(_) => Shape::MultiChoice,
        StepKind::Parallel(_) => Shape::Parallel,
        StepKind::Join(_) => Shape::Join,
        StepKind::Wait(_) => Shape::Wait,
        StepKind::End(_) => Shape::End,
    }
}

fn branch_label(b: &crate::definition::Branch) -> Option<String> {
    b.label
        .clone()
        .or_else(|| b.when.as_ref().map(|w| w.source().trim().to_owned()))
}

/// Every edge of the definition, labelled as the map shows it.
fn links(process: &Process, index: &HashMap<&StepId, usize>) -> Vec<Link> {
    let mut out = Vec::new();
    for (i, step) in process.steps.values().enumerate() {
        let mut push = |to: &StepId, label: Option<String>, fallback: bool| {
            if let Some(&t) = index.get(to) {
                out.push(Link {
                    from: i,
                    to: t,
                    label,
                    fallback,
                });
            }
        };
        match &step.kind {
            StepKind::Task(t) => {
                for o in t.outcomes.values() {
                    push(&o.target, Some(o.label.clone()), false);
                }
            }
            StepKind::Auto(a) => push(&a.next, None, false),
            StepKind::Choice(c) => {
                for b in &c.branches {
                    push(&b.to, branch_label(b), false);
                }
                if let Some(o) = &c.otherwise {
                    push(o, Some("否则".to_owned()), true);
                }
            }
            StepKind::MultiChoice(s) => {
                for b in &s.branches {
                    push(&b.to, branch_label(b), false);
                }
                match &s.otherwise {
                    Some(o) => push(o, Some("均不满足".to_owned()), true),
                    None => push(&s.join, Some("均不满足".to_owned()), true),
                }
            }
            StepKind::Parallel(s) => {
                for b in &s.branches {
                    push(&b.to, b.label.clone(), false);
                }
            }
            StepKind::Join(j) => push(&j.next, None, false),
            StepKind::Wait(w) => {
                for (event, to) in &w.on {
                    push(
                        to,
                        Some(crate::definition::event_label(event).to_owned()),
                        false,
                    );
                }
            }
            StepKind::End(_) => {}
        }
    }
    out
}

/// Lays out `process` with no notes on the boxes.
pub fn layout(process: &Process) -> Layout {
    layout_with_notes(process, &HashMap::new())
}

/// Lays out `process`; `notes` adds small lines to the boxes of some steps (a case map's
/// clerk and time), which makes those boxes taller.
pub fn layout_with_notes(process: &Process, notes: &HashMap<StepId, Vec<String>>) -> Layout {
    let steps: Vec<_> = process.steps.values().collect();
    let n = steps.len();
    let index: HashMap<&StepId, usize> =
        steps.iter().enumerate().map(|(i, s)| (&s.id, i)).collect();
    let links = links(process, &index);
    let mut succ: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (e, l) in links.iter().enumerate() {
        succ[l.from].push(e);
    }

    // Back edges: those closing a cycle in a depth-first walk from the start (then from
    // any step not reached, in file order, so a broken definition still draws).
    let mut back: HashSet<usize> = HashSet::new();
    let mut state = vec![0u8; n]; // 0 new, 1 on stack, 2 done
    let start = index.get(&process.start).copied().unwrap_or(0);
    let roots: Vec<usize> = std::iter::once(start).chain(0..n).collect();
    for root in roots {
        if n == 0 || state[root] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        state[root] = 1;
        while let Some(top) = stack.last_mut() {
            let (v, next) = *top;
            if next < succ[v].len() {
                top.1 += 1;
                let e = succ[v][next];
                let w = links[e].to;
                match state[w] {
                    0 => {
                        state[w] = 1;
                        stack.push((w, 0));
                    }
                    1 => {
                        back.insert(e);
                    }
                    _ => {}
                }
            } else {
                state[v] = 2;
                stack.pop();
            }
        }
    }

    // Longest-path layering over forward edges (Kahn order).
    let mut indeg = vec![0usize; n];
    for (e, l) in links.iter().enumerate() {
        if !back.contains(&e) && l.from != l.to {
            indeg[l.to] += 1;
        }
    }
    let mut layer = vec![0usize; n];
    let mut queue: Vec<usize> = (0..n).filter(|&v| indeg[v] == 0).collect();
    let mut head = 0;
    while head < queue.len() {
        let v = queue[head];
        head += 1;
        for &e in &succ[v] {
            let l = &links[e];
            if back.contains(&e) || l.from == l.to {
                continue;
            }
            layer[l.to] = layer[l.to].max(layer[v] + 1);
            indeg[l.to] -= 1;
            if indeg[l.to] == 0 {
                queue.push(l.to);
            }
        }
    }

    // Lanes: each task's department; automatic steps in their own lane; gateways, waits
    // and ends beside the step that leads to them (a join beside its split).
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); n];
    for l in &links {
        preds[l.to].push(l.from);
    }
    let mut lane_key: Vec<Option<String>> = steps
        .iter()
        .map(|s| match &s.kind {
            StepKind::Task(t) => Some(
                process
                    .roles
                    .get(&t.role)
                    .map_or_else(|| t.role.clone(), |r| r.department.clone()),
            ),
            StepKind::Auto(_) => Some(String::new()),
            _ => None,
        })
        .collect();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&v| (layer[v], v));
    for _ in 0..n.max(1) {
        let mut changed = false;
        for &v in &order {
            if lane_key[v].is_some() {
                continue;
            }
            let from_split = match &steps[v].kind {
                StepKind::Join(j) => index.get(&j.split).copied(),
                _ => None,
            };
            let guess = from_split
                .and_then(|s| lane_key[s].clone())
                .or_else(|| {
                    preds[v]
                        .iter()
                        .filter(|&&p| layer[p] < layer[v] || p < v)
                        .find_map(|&p| lane_key[p].clone())
                })
                .or_else(|| succ[v].iter().find_map(|&e| lane_key[links[e].to].clone()));
            if guess.is_some() {
                lane_key[v] = guess;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let mut lane_keys: Vec<String> = Vec::new();
    for key in process.departments.keys() {
        if lane_key.iter().any(|k| k.as_deref() == Some(key.as_str())) {
            lane_keys.push(key.clone());
        }
    }
    for key in lane_key.iter().flatten() {
        if !key.is_empty() && !lane_keys.contains(key) {
            lane_keys.push(key.clone());
        }
    }
    if lane_key
        .iter()
        .any(|k| k.as_deref().is_none_or(str::is_empty))
        || lane_keys.is_empty()
    {
        lane_keys.push(String::new());
    }
    let lane_of: Vec<usize> = lane_key
        .iter()
        .map(|k| {
            let k = k.as_deref().unwrap_or("");
            lane_keys
                .iter()
                .position(|x| x == k)
                .unwrap_or(lane_keys.len() - 1)
        })
        .collect();

    // Box sizes.
    let layers = layer.iter().copied().max().map_or(0, |m| m + 1);
    let mut boxes: Vec<BoxGeom> = steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let shape = shape_of(&s.kind);
            let caption = match &s.kind {
                StepKind::Choice(_) => Some("条件分支（只走一支）".to_owned()),
                StepKind::MultiChoice(_) => Some("按条件分支（可走多支）".to_owned()),
                StepKind::Parallel(_) => Some("并行分支（全部都走）".to_owned()),
                StepKind::Join(_) => Some("汇合（等各支办完）".to_owned()),
                StepKind::Wait(_) => Some("等待".to_owned()),
                StepKind::Auto(_) => Some("自动计算".to_owned()),
                StepKind::End(e) if e.result != s.name => Some(format!("结果：{}", e.result)),
                StepKind::End(_) => Some("结束".to_owned()),
                StepKind::Task(_) => None,
            };
            let lines = wrap(&s.name, BOX_W - 16.0, NAME_FONT);
            let note: Vec<String> = notes
                .get(&s.id)
                .into_iter()
                .flatten()
                .flat_map(|n| wrap(n, BOX_W - 12.0, NOTE_FONT))
                .collect();
            let h = BOX_PAD * 2.0
                + lines.len() as f64 * (NAME_FONT + 3.0)
                + caption.as_ref().map_or(0.0, |_| NOTE_FONT + 4.0)
                + note.len() as f64 * (NOTE_FONT + 3.0);
            BoxGeom {
                step: s.id.clone(),
                name: s.name.clone(),
                lines,
                caption,
                notes: note,
                shape,
                rect: Rect {
                    x: 0.0,
                    y: 0.0,
                    w: BOX_W,
                    h: h.max(40.0),
                },
                lane: lane_of[i],
                layer: layer[i],
            }
        })
        .collect();

    // Cells (lane × layer) and lane widths; long and back edges get a channel track in
    // the target's lane.
    let lanes_n = lane_keys.len();
    let mut cells: HashMap<(usize, usize), Vec<usize>> = HashMap::new();
    for v in &order {
        cells.entry((lane_of[*v], layer[*v])).or_default().push(*v);
    }
    let routed_long = |e: usize| {
        let l = &links[e];
        back.contains(&e) || layer[l.to] != layer[l.from] + 1
    };
    let mut channel_tracks = vec![0usize; lanes_n];
    let mut channel_of: HashMap<usize, usize> = HashMap::new();
    for e in 0..links.len() {
        if routed_long(e) {
            let lane = lane_of[links[e].to];
            channel_of.insert(e, channel_tracks[lane]);
            channel_tracks[lane] += 1;
        }
    }
    let mut lanes: Vec<Lane> = Vec::new();
    let mut x = 0.0;
    for (li, key) in lane_keys.iter().enumerate() {
        let most = cells
            .iter()
            .filter(|((l, _), _)| *l == li)
            .map(|(_, v)| v.len())
            .max()
            .unwrap_or(1);
        let name = if key.is_empty() {
            "系统自动".to_owned()
        } else {
            process
                .departments
                .get(key)
                .map_or_else(|| key.clone(), |d| d.name.clone())
        };
        let w = LANE_PAD * 2.0
            + most as f64 * BOX_W
            + (most.saturating_sub(1)) as f64 * BOX_GAP
            + channel_tracks[li] as f64 * TRACK
            + if channel_tracks[li] > 0 { 8.0 } else { 0.0 };
        lanes.push(Lane {
            key: key.clone(),
            name,
            rect: Rect {
                x,
                y: 0.0,
                w,
                h: 0.0,
            },
        });
        x += w;
    }
    let width = x;

    // Horizontal placement: per layer, boxes of a cell near their predecessors, in order.
    let inner = |li: usize| {
        let r = lanes[li].rect;
        (
            r.x + LANE_PAD,
            r.x + r.w
                - LANE_PAD
                - channel_tracks[li] as f64 * TRACK
                - if channel_tracks[li] > 0 { 8.0 } else { 0.0 },
        )
    };
    let mut cx: Vec<f64> = vec![0.0; n];
    let mut placed = vec![false; n];
    for ly in 0..layers {
        for li in 0..lanes_n {
            let Some(cell) = cells.get(&(li, ly)) else {
                continue;
            };
            let (lo, hi) = inner(li);
            let mid = (lo + hi) / 2.0;
            let mut wanted: Vec<(f64, usize)> = cell
                .iter()
                .map(|&v| {
                    let mut sum = 0.0;
                    let mut count = 0.0;
                    for (e, l) in links.iter().enumerate() {
                        if l.to != v || !placed[l.from] || back.contains(&e) {
                            continue;
                        }
                        // Spread a step's successors around it: the first straight below.
                        let siblings: Vec<usize> = succ[l.from]
                            .iter()
                            .map(|&s| links[s].to)
                            .filter(|t| lane_of[*t] == li && layer[*t] == ly)
                            .fold(Vec::new(), |mut acc, t| {
                                if !acc.contains(&t) {
                                    acc.push(t);
                                }
                                acc
                            });
                        let rank = siblings.iter().position(|&t| t == v).unwrap_or(0) as f64;
                        let spread = if rank == 0.0 {
                            0.0
                        } else if rank % 2.0 == 1.0 {
                            rank.div_euclid(2.0) + 1.0
                        } else {
                            -(rank / 2.0)
                        };
                        let px = if lane_of[l.from] == li {
                            cx[l.from]
                        } else {
                            mid
                        };
                        sum += px + spread * (BOX_W + BOX_GAP);
                        count += 1.0;
                    }
                    (if count > 0.0 { sum / count } else { mid }, v)
                })
                .collect();
            wanted.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let half = BOX_W / 2.0;
            let mut xs: Vec<f64> = wanted
                .iter()
                .map(|w| w.0.clamp(lo + half, hi - half))
                .collect();
            for i in 1..xs.len() {
                xs[i] = xs[i].max(xs[i - 1] + BOX_W + BOX_GAP);
            }
            if let Some(last) = xs.last_mut() {
                *last = last.min(hi - half);
            }
            for i in (0..xs.len().saturating_sub(1)).rev() {
                xs[i] = xs[i].min(xs[i + 1] - BOX_W - BOX_GAP);
            }
            for (k, (_, v)) in wanted.iter().enumerate() {
                cx[*v] = xs[k];
                placed[*v] = true;
            }
        }
    }

    // Labels wrap to fit; exits spread along the bottom of their box.
    let mut label_lines: Vec<Vec<String>> = links
        .iter()
        .map(|l| {
            l.label
                .as_deref()
                .map(|t| wrap(t, LABEL_MAX, LABEL_FONT))
                .unwrap_or_default()
        })
        .collect();
    let mut exit_x: Vec<f64> = vec![0.0; links.len()];
    for v in 0..n {
        let outs = &succ[v];
        let k = outs.len() as f64;
        for (i, &e) in outs.iter().enumerate() {
            let left = cx[v] - BOX_W / 2.0;
            exit_x[e] = left + BOX_W * (i as f64 + 1.0) / (k + 1.0);
        }
    }

    // Vertical placement row by row; each gutter below a row holds the labels of the
    // edges leaving the row, then one track per edge that turns in it.
    let row_h: Vec<f64> = (0..layers)
        .map(|ly| {
            boxes
                .iter()
                .filter(|b| b.layer == ly)
                .map(|b| b.rect.h)
                .fold(0.0, f64::max)
        })
        .collect();
    let mut y = LANE_TITLE + TOP;
    let mut label_rect: Vec<Option<Rect>> = vec![None; links.len()];
    // Track y of the gutter under the source (exit) and above the target (entry).
    let mut exit_y: Vec<f64> = vec![0.0; links.len()];
    let mut entry_y: Vec<f64> = vec![0.0; links.len()];
    let mut entries_by_gutter: Vec<Vec<usize>> = vec![Vec::new(); layers + 1];
    for (e, l) in links.iter().enumerate() {
        // The gutter above the target row (index = target layer).
        entries_by_gutter[layer[l.to]].push(e);
    }
    for ly in 0..layers {
        for b in boxes.iter_mut().filter(|b| b.layer == ly) {
            b.rect.y = y + (row_h[ly] - b.rect.h) / 2.0;
        }
        for (v, b) in boxes.iter_mut().enumerate() {
            if b.layer == ly {
                b.rect.x = cx[v] - BOX_W / 2.0;
            }
        }
        y += row_h[ly];
        // Gutter under row ly.
        let gutter_top = y + 6.0;
        let leaving: Vec<usize> = (0..links.len())
            .filter(|&e| layer[links[e].from] == ly)
            .collect();
        let stubs: Vec<(f64, usize)> = leaving.iter().map(|&e| (exit_x[e], e)).collect();
        let mut placed_labels: Vec<Rect> = Vec::new();
        let mut zone_bottom = gutter_top;
        for &e in &leaving {
            if label_lines[e].is_empty() {
                continue;
            }
            let w = label_lines[e]
                .iter()
                .map(|l| super::text::width(l, LABEL_FONT))
                .fold(0.0, f64::max)
                + 6.0;
            let h = label_lines[e].len() as f64 * LABEL_LINE + 2.0;
            let mut best: Option<(f64, Rect)> = None;
            for row in 0..8 {
                for side in [1.0, -1.0] {
                    let x = if side > 0.0 {
                        exit_x[e] + 3.0
                    } else {
                        exit_x[e] - 3.0 - w
                    };
                    let r = Rect {
                        x: x.max(1.0).min(width - w - 1.0),
                        y: gutter_top + row as f64 * (LABEL_LINE + 1.0),
                        w,
                        h,
                    };
                    if placed_labels.iter().any(|p| p.overlaps(&r)) {
                        continue;
                    }
                    let crossings = stubs
                        .iter()
                        .filter(|(sx, se)| *se != e && *sx > r.x && *sx < r.x + r.w)
                        .count() as f64;
                    let cost = crossings * 10.0 + row as f64 + if side < 0.0 { 0.5 } else { 0.0 };
                    if best.is_none_or(|(c, _)| cost < c) {
                        best = Some((cost, r));
                    }
                }
            }
            if let Some((_, r)) = best {
                placed_labels.push(r);
                zone_bottom = zone_bottom.max(r.y + r.h);
                label_rect[e] = Some(r);
            } else {
                label_lines[e].clear();
            }
        }
        // Tracks: exits of this row that turn, then entries into the next row that turn.
        let mut track = zone_bottom + 8.0;
        for &e in &leaving {
            exit_y[e] = track;
            track += TRACK;
        }
        if ly + 1 < layers {
            for &e in &entries_by_gutter[ly + 1] {
                if !routed_long(e) {
                    entry_y[e] = exit_y[e];
                } else {
                    entry_y[e] = track;
                    track += TRACK;
                }
            }
        }
        y = track + 6.0;
    }
    // Entries into the first row (loops back to the start): a gutter above it.
    let first_entries: Vec<usize> = entries_by_gutter.first().cloned().unwrap_or_default();
    let top_track0 = LANE_TITLE + 8.0;
    for (k, &e) in first_entries.iter().enumerate() {
        entry_y[e] = top_track0 + k as f64 * TRACK;
    }
    if !first_entries.is_empty() {
        // Keep the loop tracks clear of the first row.
        let shift = top_track0 + first_entries.len() as f64 * TRACK + 8.0 - (LANE_TITLE + TOP);
        if shift > 0.0 {
            for b in &mut boxes {
                b.rect.y += shift;
            }
            for r in label_rect.iter_mut().flatten() {
                r.y += shift;
            }
            for v in exit_y.iter_mut() {
                *v += shift;
            }
            for (e, v) in entry_y.iter_mut().enumerate() {
                if !first_entries.contains(&e) {
                    *v += shift;
                }
            }
            y += shift;
        }
    }
    let height = y + 10.0;
    for lane in &mut lanes {
        lane.rect.h = height;
    }

    // Paths.
    let edges: Vec<EdgeGeom> = links
        .iter()
        .enumerate()
        .map(|(e, l)| {
            let s = &boxes[l.from].rect;
            let t = &boxes[l.to].rect;
            let sx = exit_x[e];
            let sy = s.y + s.h;
            let tx = t.center_x();
            let ty = t.y;
            let points = if routed_long(e) {
                let li = lane_of[l.to];
                let r = lanes[li].rect;
                let channel =
                    r.x + r.w - 6.0 - channel_of.get(&e).copied().unwrap_or(0) as f64 * TRACK;
                vec![
                    (sx, sy),
                    (sx, exit_y[e]),
                    (channel, exit_y[e]),
                    (channel, entry_y[e]),
                    (tx, entry_y[e]),
                    (tx, ty),
                ]
            } else {
                vec![(sx, sy), (sx, exit_y[e]), (tx, exit_y[e]), (tx, ty)]
            };
            EdgeGeom {
                from: steps[l.from].id.clone(),
                to: steps[l.to].id.clone(),
                label: l.label.clone().filter(|_| !label_lines[e].is_empty()),
                label_lines: label_lines[e].clone(),
                label_rect: label_rect[e],
                points: simplify(points),
                back: back.contains(&e),
                fallback: l.fallback,
            }
        })
        .collect();
    let start_box = boxes.get(start).map(|b| b.rect);
    let start_pt = start_box.map_or((0.0, 0.0), |r| (r.center_x(), r.y - 22.0));
    Layout {
        width,
        height,
        lanes,
        boxes,
        edges,
        start: start_pt,
    }
}

/// Drops repeated points and points in the middle of a straight run.
fn simplify(points: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(points.len());
    for p in points {
        if out
            .last()
            .is_some_and(|q| (q.0 - p.0).abs() < 0.01 && (q.1 - p.1).abs() < 0.01)
        {
            continue;
        }
        if out.len() >= 2 {
            let a = out[out.len() - 2];
            let b = out[out.len() - 1];
            let straight = ((a.0 - b.0).abs() < 0.01 && (b.0 - p.0).abs() < 0.01)
                || ((a.1 - b.1).abs() < 0.01 && (b.1 - p.1).abs() < 0.01);
            if straight {
                out.pop();
            }
        }
        out.push(p);
    }
    out
}
