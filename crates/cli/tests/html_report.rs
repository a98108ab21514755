//! The HTML reports rendered by a real browser (Debian's headless Chromium) and looked at: the
//! trace of a lab fault shows both nodes and the drop marked at the hop where the kernel drops
//! it; the check page shows its parts; neither is blank, in a wide or a narrow window.
//! Needs root (the lab) and chromium; fails under NETDOCTOR_REQUIRE_LAB=1 when they are
//! missing.

mod support;

use netdoctor_lab::{ClusterSpec, Fault, Lab, CLUSTER_CIDR, SERVICE_CIDR};
use netdoctor_testkit::require_lab;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_netdoctor");

fn chromium() -> &'static str {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| netdoctor_testkit::have(c))
        .unwrap_or("chromium")
}

fn browser(args: &[&str], page: &Path, profile: &Path) -> std::process::Output {
    Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium")
}

/// Screenshot `page` at `width` x `height`; the decoded RGB(A) pixels and the row width.
fn screenshot(page: &Path, dir: &Path, width: u32, height: u32) -> (Vec<u8>, usize, usize) {
    let png = dir.join(format!("shot-{width}.png"));
    let out = browser(
        &[
            &format!("--screenshot={}", png.display()),
            &format!("--window-size={width},{height}"),
        ],
        page,
        &dir.join(format!("profile-{width}")),
    );
    assert!(
        png.exists(),
        "no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&png).expect("png"),
    ));
    let mut reader = decoder.read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("png frame");
    let channels = info.color_type.samples();
    buf.truncate(info.buffer_size());
    (buf, channels, info.width as usize)
}

/// Share of pixels that are not (nearly) white, and of pixels in the drop's red.
fn ink_and_red(px: &[u8], channels: usize) -> (f64, f64) {
    let n = px.len() / channels;
    let (mut ink, mut red) = (0usize, 0usize);
    for p in px.chunks(channels) {
        let (r, g, b) = (p[0], p[1], p[2]);
        if r < 235 || g < 235 || b < 235 {
            ink += 1;
        }
        // #c62828 and the tints near it.
        if r > 170 && g < 80 && b < 80 {
            red += 1;
        }
    }
    (ink as f64 / n as f64, red as f64 / n as f64)
}

fn dom(page: &Path, dir: &Path) -> String {
    let out = browser(&["--dump-dom"], page, &dir.join("profile-dom"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn collect(lab: &Lab, i: usize, dir: &Path) -> PathBuf {
    let n = lab.node(i);
    let out = dir.join(format!("{}.json", n.name));
    let st = Command::new("ip")
        .args([
            "netns",
            "exec",
            &n.netns,
            BIN,
            "collect",
            "--node-name",
            &n.name,
            "--root",
        ])
        .arg(n.root_dir())
        .arg("-o")
        .arg(&out)
        .output()
        .expect("collect");
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    out
}

#[test]
fn the_html_trace_and_check_render_with_the_drop_at_the_right_hop() {
    require_lab!("html_report", "ip", chromium());
    let dir = tempfile::tempdir().expect("tempdir");
    let lab = Lab::build(&ClusterSpec::default()).expect("lab");
    lab.inject(Fault::VxlanPortBlocked).expect("inject");
    let files = [collect(&lab, 0, dir.path()), collect(&lab, 1, dir.path())];
    let src = lab.pod(0, 0).expect("pod").ip.to_string();
    let dst = format!("{}:8080", lab.pod(1, 0).expect("pod").ip);
    let trace = |format: &str| {
        let out = Command::new(BIN)
            .arg("trace")
            .args(
                files
                    .iter()
                    .flat_map(|f| ["--snapshot".as_ref(), f.as_os_str()]),
            )
            .args(["--from", &src, "--to", &dst, "-o", format])
            .output()
            .expect("trace");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let json: serde_json::Value = serde_json::from_slice(&trace("json")).expect("json");
    assert_eq!(json["verdict"], "dropped", "{json:#}");
    let drop_node = json["drop"]["node"]
        .as_str()
        .expect("drop node")
        .to_string();
    let drop_stage = json["drop"]["stage"]
        .as_str()
        .expect("drop stage")
        .to_string();
    let page = dir.path().join("trace.html");
    std::fs::write(&page, trace("html")).expect("write");
    let html = std::fs::read_to_string(&page).expect("read");
    assert!(!html.contains("http://") && !html.contains("https://") && !html.contains("<script"));

    // What the browser built: the drop is one hop, on the node and at the stage the trace says.
    let d = dom(&page, dir.path());
    assert_eq!(d.matches("data-drop=\"true\"").count(), 1, "{d}");
    let drop_li = d
        .split("<li ")
        .find(|l| l.contains("data-drop=\"true\""))
        .expect("drop hop");
    assert!(
        drop_li.contains(&format!("data-stage=\"{drop_stage}\"")),
        "the drop at {drop_stage}: {drop_li}"
    );
    let box_of_drop = d
        .split("<div class=\"node")
        .find(|b| b.contains("data-drop=\"true\""))
        .expect("node box");
    assert!(
        box_of_drop.contains(&format!("data-node=\"{drop_node}\""))
            && box_of_drop.starts_with(" has-drop"),
        "the drop in {drop_node}'s box: {box_of_drop}"
    );
    for n in ["n0", "n1"] {
        assert!(
            d.contains(&format!("data-node=\"{n}\"")),
            "{n} is drawn: {d}"
        );
    }
    assert!(d.contains("overlay-port-blocked"), "the finding is named");

    // What a person sees: not blank, and the drop's red is on the page; also in a narrow window.
    for (w, h) in [(1280, 1600), (420, 2400)] {
        let (px, ch, _) = screenshot(&page, dir.path(), w, h);
        let (ink, red) = ink_and_red(&px, ch);
        assert!(ink > 0.03, "{w}px: the page is blank ({ink:.3} ink)");
        assert!(red > 0.001, "{w}px: no drop marked in red ({red:.4})");
        // Kept for a person to look at.
        let _ = std::fs::copy(
            dir.path().join(format!("shot-{w}.png")),
            std::env::temp_dir().join(format!("netdoctor-trace-html-{w}.png")),
        );
    }

    // The check page of the broken node: its parts are there and it is not blank.
    let n0 = lab.node(0);
    let out = Command::new("ip")
        .args([
            "netns", "exec", &n0.netns, BIN, "check", "-o", "html", "--root",
        ])
        .arg(n0.root_dir())
        .args([
            "--node-name",
            &n0.name,
            "--cni",
            "flannel",
            "--cluster-cidr",
            CLUSTER_CIDR,
        ])
        .args(["--service-cidr", SERVICE_CIDR, "--pod-cidr", &n0.pod_cidr])
        .output()
        .expect("check");
    let page = dir.path().join("check.html");
    std::fs::write(&page, &out.stdout).expect("write");
    let d = dom(&page, dir.path());
    for part in [
        "id=\"steps\"",
        "id=\"overlay-port-blocked\"",
        "Fix now",
        "Inputs",
    ] {
        assert!(d.contains(part), "{part} missing from the check page");
    }
    let (px, ch, _) = screenshot(&page, dir.path(), 1280, 1600);
    let (ink, red) = ink_and_red(&px, ch);
    assert!(
        ink > 0.03 && red > 0.0005,
        "check page: {ink:.3} ink, {red:.4} red"
    );
    std::fs::copy(
        dir.path().join("shot-1280.png"),
        std::env::temp_dir().join("netdoctor-check-html.png"),
    )
    .ok();
    // The fleet page over both nodes' snapshots.
    let out = Command::new(BIN)
        .arg("fleet")
        .args(
            files
                .iter()
                .flat_map(|f| ["--snapshot".as_ref(), f.as_os_str()]),
        )
        .args(["-o", "html"])
        .output()
        .expect("fleet");
    let page = dir.path().join("fleet.html");
    std::fs::write(&page, &out.stdout).expect("write");
    let d = dom(&page, dir.path());
    for part in [
        "id=\"summary\"",
        "overlay-port-blocked",
        "id=\"node-n0\"",
        "id=\"node-n1\"",
    ] {
        assert!(d.contains(part), "{part} missing from the fleet page: {d}");
    }
    let (px, ch, _) = screenshot(&page, dir.path(), 1024, 900);
    let (ink, _) = ink_and_red(&px, ch);
    assert!(ink > 0.02, "fleet page: {ink:.3} ink");
    lab.revert(Fault::VxlanPortBlocked).expect("revert");
    lab.close().expect("close");
}
