//! The process map (附件3 流程图): for every shipped definition and for a generated one three
//! times the retirement's size, the SVG parses as XML, shows every step name and every edge
//! label, and the layout puts no two boxes (nor a label and a box) on top of each other; a
//! snapshot of the Yangcheng retirement map; the definitions page, `diagram.svg` and the
//! print view over real HTTP (county-scoped); the case page's map after 受理 and 确认; the
//! 一次性告知单 print pack with 附件3. Web tests run on SQLite and on PostgreSQL.
//!
//! Set `LIANBAN_UPDATE_SNAPSHOTS=1` to rewrite `tests/snapshots/yangcheng-retirement.svg`
//! after an intended change to the drawing.

use std::collections::HashSet;

use lianban::accounts::Role;
use lianban::definition::{Process, StepId, StepKind, load_paths};
use lianban::diagram::{self, Layout};
use lianban::documents::Templates;
use lianban_tests::db_test;
use lianban_tests::pages::Browser;
use lianban_tests::web::{TestApp, repo};
use serde_json::{Value, json};

fn shipped() -> Vec<Process> {
    let templates = Templates::load(&repo().join("templates")).expect("templates");
    load_paths(&[repo().join("processes")], &templates).expect("shipped definitions load")
}

fn retirement() -> Process {
    shipped()
        .into_iter()
        .find(|p| p.id == "yangcheng.retirement")
        .expect("yangcheng.retirement is shipped")
}

/// Every `<text>` element's content (its tspans joined), as drawn.
fn texts(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).expect("the SVG is well-formed XML");
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| {
            n.descendants()
                .filter(|d| d.is_text())
                .filter_map(|d| d.text())
                .collect::<String>()
        })
        .collect()
}

/// Rewrites every step id of a kind through `f`.
fn rename(kind: &mut StepKind, f: &impl Fn(&StepId) -> StepId) {
    match kind {
        StepKind::Task(t) => {
            for o in t.outcomes.values_mut() {
                o.target = f(&o.target);
            }
        }
        StepKind::Auto(a) => a.next = f(&a.next),
        StepKind::Choice(c) => {
            for b in &mut c.branches {
                b.to = f(&b.to);
            }
            c.otherwise = c.otherwise.as_ref().map(f);
        }
        StepKind::MultiChoice(s) | StepKind::Parallel(s) => {
            for b in &mut s.branches {
                b.to = f(&b.to);
            }
            s.join = f(&s.join);
            s.otherwise = s.otherwise.as_ref().map(f);
        }
        StepKind::Join(j) => {
            j.split = f(&j.split);
            j.next = f(&j.next);
        }
        StepKind::Wait(w) => {
            for to in w.on.values_mut() {
                *to = f(to);
            }
        }
        StepKind::End(_) => {}
    }
}

/// The retirement process three times over: copy 1's 办结 leads into copy 2's 受理 and so
/// on, so every loop, split and end appears three times (names get a 第N段 suffix).
fn tripled() -> Process {
    let base = retirement();
    let mut out = base.clone();
    out.id = "generated.tripled".into();
    out.steps.clear();
    for copy in 1..=3 {
        let prefix = |id: &StepId| StepId(format!("c{copy}_{id}"));
        for step in base.steps.values() {
            let mut step = step.clone();
            let id = prefix(&step.id);
            rename(&mut step.kind, &|to: &StepId| {
                if copy < 3 && to.as_str() == "done" {
                    StepId(format!("c{}_accept", copy + 1))
                } else {
                    StepId(format!("c{copy}_{to}"))
                }
            });
            if copy < 3 && step.id.as_str() == "done" {
                continue;
            }
            step.id = id;
            step.name = format!("{}（第{copy}段）", step.name);
            out.steps.insert(step.id.clone(), step);
        }
    }
    out.start = StepId("c1_accept".into());
    out
}

/// The checks every map must pass.
fn check_map(process: &Process) {
    let layout = diagram::layout(process);
    let svg = diagram::svg(process);
    let drawn = texts(&svg);
    let drawn: HashSet<&str> = drawn.iter().map(String::as_str).collect();
    let doc = roxmltree::Document::parse(&svg).expect("well-formed");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    let view: Vec<f64> = root
        .attribute("viewBox")
        .unwrap_or_default()
        .split(' ')
        .filter_map(|v| v.parse().ok())
        .collect();
    assert_eq!(view.len(), 4, "{}: viewBox", process.id);
    assert!(
        (view[2] - layout.width).abs() < 0.1 && (view[3] - layout.height).abs() < 0.1,
        "{}: the viewBox is sized to the content",
        process.id
    );
    assert!(
        root.children().any(|c| c.has_tag_name("title")),
        "{}: the SVG has a <title>",
        process.id
    );
    assert!(
        !svg.contains("<script") && !svg.contains("href=\"http") && !svg.contains("xlink:href"),
        "{}: self-contained",
        process.id
    );
    for step in process.steps.values() {
        assert!(
            drawn.contains(step.name.as_str()),
            "{}: step {} is drawn",
            process.id,
            step.name
        );
        assert!(layout.box_of(&step.id).is_some(), "{}", step.id);
    }
    // Every edge of the definition, with its label.
    let mut expected: Vec<(String, String, Option<String>)> = Vec::new();
    for step in process.steps.values() {
        let from = step.id.0.clone();
        match &step.kind {
            StepKind::Task(t) => {
                for o in t.outcomes.values() {
                    expected.push((from.clone(), o.target.0.clone(), Some(o.label.clone())));
                }
            }
            StepKind::Choice(c) => {
                for b in &c.branches {
                    let label = b
                        .label
                        .clone()
                        .or_else(|| b.when.as_ref().map(|w| w.source().to_owned()));
                    expected.push((from.clone(), b.to.0.clone(), label));
                }
                if let Some(o) = &c.otherwise {
                    expected.push((from.clone(), o.0.clone(), Some("否则".into())));
                }
            }
            StepKind::MultiChoice(s) | StepKind::Parallel(s) => {
                for b in &s.branches {
                    expected.push((from.clone(), b.to.0.clone(), b.label.clone()));
                }
            }
            StepKind::Wait(w) => {
                for (event, to) in &w.on {
                    expected.push((
                        from.clone(),
                        to.0.clone(),
                        Some(lianban::definition::event_label(event).to_owned()),
                    ));
                }
            }
            StepKind::Auto(a) => expected.push((from.clone(), a.next.0.clone(), None)),
            StepKind::Join(j) => expected.push((from.clone(), j.next.0.clone(), None)),
            StepKind::End(_) => {}
        }
    }
    for (from, to, label) in &expected {
        let edge = layout
            .edges
            .iter()
            .find(|e| e.from.0 == *from && e.to.0 == *to && e.label.as_ref() == label.as_ref());
        assert!(
            edge.is_some(),
            "{}: edge {from} → {to} ({label:?})",
            process.id
        );
        if let Some(label) = label {
            assert!(
                drawn.contains(label.as_str()),
                "{}: label {label} is drawn",
                process.id
            );
        }
        let edge = edge.expect("checked");
        assert!(edge.points.len() >= 2, "{from} → {to} has a path");
    }
    no_overlaps(process, &layout);
}

fn no_overlaps(process: &Process, layout: &Layout) {
    for (i, a) in layout.boxes.iter().enumerate() {
        assert!(a.rect.x >= 0.0 && a.rect.y >= 0.0, "{} inside", a.step);
        assert!(
            a.rect.x + a.rect.w <= layout.width && a.rect.y + a.rect.h <= layout.height,
            "{}: {} inside the canvas",
            process.id,
            a.step
        );
        let lane = &layout.lanes[a.lane].rect;
        assert!(
            a.rect.x >= lane.x && a.rect.x + a.rect.w <= lane.x + lane.w,
            "{}: {} inside its lane",
            process.id,
            a.step
        );
        for b in &layout.boxes[i + 1..] {
            assert!(
                !a.rect.overlaps(&b.rect),
                "{}: boxes {} {:?} and {} {:?} overlap",
                process.id,
                a.step,
                a.rect,
                b.step,
                b.rect
            );
        }
    }
    let labels: Vec<_> = layout.edges.iter().filter_map(|e| e.label_rect).collect();
    for (i, l) in labels.iter().enumerate() {
        for b in &layout.boxes {
            assert!(
                !l.overlaps(&b.rect),
                "{}: a label {l:?} covers box {}",
                process.id,
                b.step
            );
        }
        for m in &labels[i + 1..] {
            assert!(
                !l.overlaps(m),
                "{}: labels {l:?} and {m:?} overlap",
                process.id
            );
        }
    }
    // Edges run between boxes, never through one: every segment misses every box other
    // than its own ends' (the first and last points touch their boxes' borders).
    for e in &layout.edges {
        for pair in e.points.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let seg = lianban::diagram::Rect {
                x: a.0.min(b.0) - 0.5,
                y: a.1.min(b.1) - 0.5,
                w: (a.0 - b.0).abs() + 1.0,
                h: (a.1 - b.1).abs() + 1.0,
            };
            for bx in &layout.boxes {
                if bx.step == e.from || bx.step == e.to {
                    continue;
                }
                assert!(
                    !seg.overlaps(&bx.rect),
                    "{}: edge {} → {} crosses box {}",
                    process.id,
                    e.from,
                    e.to,
                    bx.step
                );
            }
        }
    }
}

#[test]
fn every_shipped_definition_draws_readably() {
    let processes = shipped();
    assert!(processes.len() >= 3);
    for process in &processes {
        check_map(process);
    }
}

#[test]
fn a_definition_three_times_the_retirement_draws_readably() {
    let process = tripled();
    assert_eq!(process.steps.len(), 3 * retirement().steps.len() - 2);
    check_map(&process);
    // The three copies stack down the page: each 受理 sits below the previous 办结送达.
    let layout = diagram::layout(&process);
    let y = |id: &str| {
        layout
            .box_of(&StepId(id.into()))
            .map(|b| b.rect.y)
            .unwrap_or_default()
    };
    assert!(y("c2_accept") > y("c1_completion") && y("c3_accept") > y("c2_completion"));
}

#[test]
fn the_retirement_map_has_lanes_loops_and_gateways() {
    let process = retirement();
    let layout = diagram::layout(&process);
    let lanes: Vec<&str> = layout.lanes.iter().map(|l| l.key.as_str()).collect();
    assert_eq!(lanes, ["shebao", "yibao", "gjj", "veterans"]);
    let lane_of = |id: &str| {
        layout
            .box_of(&StepId(id.into()))
            .map(|b| layout.lanes[b.lane].key.clone())
            .unwrap_or_default()
    };
    assert_eq!(lane_of("medical"), "yibao");
    assert_eq!(lane_of("fund"), "gjj");
    assert_eq!(lane_of("veteran_confirm"), "veterans");
    assert_eq!(lane_of("joint_done"), "shebao");
    // 补正 → 受理 is a loop drawn back up; the rest flows down.
    let back: Vec<(&str, &str)> = layout
        .edges
        .iter()
        .filter(|e| e.back)
        .map(|e| (e.from.as_str(), e.to.as_str()))
        .collect();
    assert_eq!(back, [("supplement_wait", "accept")]);
    for e in layout.edges.iter().filter(|e| !e.back) {
        let (from, to) = (layout.box_of(&e.from), layout.box_of(&e.to));
        if let (Some(a), Some(b)) = (from, to) {
            assert!(b.layer > a.layer, "{} → {} flows down", e.from, e.to);
        }
    }
    let svg = diagram::svg(&process);
    assert!(svg.contains("按条件分支（可走多支）") && svg.contains("汇合（等各支办完）"));
    assert!(svg.contains("条件分支（只走一支）") && svg.contains("均不满足"));
}

#[test]
fn untrusted_names_are_escaped() {
    let mut process = retirement();
    let accept = StepId("accept".into());
    if let Some(step) = process.steps.get_mut(&accept) {
        step.name = "<script>alert(1)</script>&\"'".into();
    }
    process.name = "</title><script>x</script>".into();
    let svg = diagram::svg(&process);
    assert!(!svg.contains("<script"), "{svg}");
    assert!(
        texts(&svg)
            .iter()
            .any(|t| t == "<script>alert(1)</script>&\"'")
    );
}

#[test]
fn the_retirement_map_matches_its_snapshot() {
    let svg = diagram::svg(&retirement());
    let path = repo().join("tests/snapshots/yangcheng-retirement.svg");
    if std::env::var_os("LIANBAN_UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
        std::fs::write(&path, &svg).expect("write snapshot");
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        expected == svg,
        "the retirement map changed; look at it, then rerun with LIANBAN_UPDATE_SNAPSHOTS=1 \
         to accept it ({})",
        path.display()
    );
}

/// A retirement application the Yangcheng form accepts, without joint items.
fn application() -> Value {
    json!({
        "process": "yangcheng.retirement",
        "form": {
            "name": "阳城张三",
            "gender": "男",
            "id_number": "140522196412150317",
            "birth": "1964-12",
            "post": "生产",
            "employer": "某煤业有限公司",
            "address": "凤城镇",
            "phone": "13935600000",
            "veteran": false,
            "item": "企业职工正常退休信息确认、待遇计发",
            "delivery": "现场自取",
            "retirement_type": "正常退休",
        },
        "materials": [],
    })
}

db_test!(definition_maps_are_served_to_their_county, |db| {
    let app = TestApp::start(&db, "processes").await?;
    let password = app
        .add_user_in("yc_li", "shebao", Some("yangcheng"), Role::Clerk)
        .await?;
    let clerk = app.login("yc_li", &password).await?;
    let page = Browser::of(&app, &clerk)?;
    let svg = page
        .get("/definitions/yangcheng.retirement/diagram.svg")
        .await?;
    assert_eq!(svg.status, 200, "{}", svg.text);
    let raw = reqwest::Client::new()
        .get(format!(
            "{}/definitions/yangcheng.retirement/diagram.svg",
            app.base
        ))
        .header("cookie", format!("lianban_session={}", clerk.session))
        .send()
        .await?;
    assert!(
        raw.headers()["content-type"]
            .to_str()?
            .starts_with("image/svg+xml")
    );
    assert!(
        texts(&svg.text)
            .iter()
            .any(|t| t == "退休信息确认、待遇计发")
    );
    let v1 = page
        .get("/definitions/yangcheng.retirement/diagram.svg?version=5")
        .await?;
    assert_eq!(v1.text, svg.text);
    for (path, status) in [
        (
            "/definitions/yangcheng.retirement/diagram.svg?version=9",
            404,
        ),
        (
            "/definitions/yangcheng.retirement/diagram.svg?version=x",
            400,
        ),
        ("/definitions/qinshui.retirement/diagram.svg", 404),
        ("/definitions/nope/diagram", 404),
    ] {
        assert_eq!(page.get(path).await?.status, status, "{path}");
    }
    let print = page
        .get("/definitions/yangcheng.retirement/diagram")
        .await?;
    assert_eq!(print.status, 200);
    assert!(print.text.contains("附件3 流程图") && print.text.contains("@page { size: A4"));
    assert!(print.text.contains("<svg") && print.text.contains("阳城县企业职工退休"));

    // Supervisors see the map of each definition of their county on the definitions page.
    let password = app
        .add_user_in("yc_boss", "shebao", Some("yangcheng"), Role::Supervisor)
        .await?;
    let boss = app.login("yc_boss", &password).await?;
    let defs = Browser::of(&app, &boss)?.get("/definitions").await?;
    assert_eq!(defs.status, 200);
    assert!(
        defs.text.contains("<svg")
            && defs
                .text
                .contains("/definitions/yangcheng.retirement/diagram")
    );
    assert!(!defs.text.contains("qinshui.retirement"));
    Ok(())
});

db_test!(case_map_shows_done_current_and_skipped, |db| {
    let app = TestApp::start(&db, "processes").await?;
    let password = app
        .add_user_in("yc_wang", "shebao", Some("yangcheng"), Role::Clerk)
        .await?;
    let clerk = app.login("yc_wang", &password).await?;
    // 受审分离: another clerk confirms what yc_wang accepted.
    let password = app
        .add_user_in("yc_li", "shebao", Some("yangcheng"), Role::Clerk)
        .await?;
    let reviewer = app.login("yc_li", &password).await?;
    let started = clerk.start(&application()).await?;
    assert_eq!(started.status, 201, "{}", started.text);
    let case = started.json["id"].as_str().unwrap_or_default().to_owned();
    for (step, outcome) in [("accept", "accept"), ("confirm", "confirm")] {
        let clerk = if step == "confirm" { &reviewer } else { &clerk };
        let task = clerk.task_at(&case, step).await?;
        clerk.claim(&task).await?.ok()?;
        let body = if step == "confirm" {
            json!({"outcome": outcome, "data": {"retirement_date": "2025-01", "pension_monthly": 3000}})
        } else {
            json!({"outcome": outcome})
        };
        let done = clerk.complete(&task, &body).await?;
        assert!(done.status < 300, "{step}: {}", done.text);
    }
    let page = Browser::of(&app, &clerk)?
        .get(&format!("/cases/{case}"))
        .await?;
    assert_eq!(page.status, 200);
    let start = page.text.find("<svg").expect("the case page draws the map");
    let end = page.text[start..].find("</svg>").expect("closed") + start + 6;
    let svg = &page.text[start..end];
    let doc = roxmltree::Document::parse(svg).expect("well-formed");
    let class_of = |step: &str| {
        doc.descendants()
            .find(|n| n.attribute("data-step") == Some(step))
            .and_then(|n| n.attribute("class"))
            .unwrap_or_default()
            .to_owned()
    };
    let text_of = |step: &str| {
        doc.descendants()
            .find(|n| n.attribute("data-step") == Some(step))
            .map(|n| {
                n.descendants()
                    .filter(|d| d.is_text())
                    .filter_map(|d| d.text())
                    .collect::<String>()
            })
            .unwrap_or_default()
    };
    assert_eq!(class_of("accept"), "step done");
    assert!(
        text_of("accept").contains("yc_wang"),
        "{}",
        text_of("accept")
    );
    assert_eq!(class_of("confirm"), "step done");
    assert_eq!(class_of("completion"), "step current");
    assert_eq!(class_of("done"), "step pending");
    // No branch taken: the case went on past the join, which counts as passed.
    assert_eq!(class_of("joint"), "step done");
    assert_eq!(class_of("joint_done"), "step done");
    // No joint items: both branches and the veteran path were passed by.
    for skipped in [
        "medical",
        "fund",
        "veteran_request",
        "supplement_wait",
        "refused",
    ] {
        assert_eq!(class_of(skipped), "step skipped", "{skipped}");
    }
    // Applicant data stays out of the map.
    assert!(!svg.contains("阳城张三") && !svg.contains("140522196412150317"));
    let edge_class = |title: &str| {
        doc.descendants()
            .find(|n| {
                n.has_tag_name("path")
                    && n.children()
                        .any(|c| c.has_tag_name("title") && c.text() == Some(title))
            })
            .and_then(|n| n.attribute("class"))
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(edge_class("accept → route_veteran"), "edge taken");
    assert_eq!(edge_class("route_veteran → confirm"), "edge taken");
    assert_eq!(edge_class("route_veteran → veteran_request"), "edge");
    assert_eq!(edge_class("confirm → declined"), "edge");
    assert_eq!(edge_class("supplement_wait → accept"), "edge back");

    // The 一次性告知单 print pack carries the map (the policy's 附件3) on a page of its own,
    // titled as the process's map: a paper handed out carries no "附件N" (issue 17).
    let notice = Browser::of(&app, &clerk)?
        .get(&format!("/cases/{case}/preview/notice"))
        .await?;
    assert_eq!(notice.status, 200, "{}", notice.text);
    assert!(!notice.text.contains("附件"), "{}", notice.text);
    let at = notice
        .text
        .find("流程图</h2>")
        .expect("the map in the pack");
    assert!(notice.text[at..].contains("<svg") && notice.text.contains("page-break-before"));
    Ok(())
});
