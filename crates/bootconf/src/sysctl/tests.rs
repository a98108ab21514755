use super::*;

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/realworld/sysctl/"
);

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}{name}"))
        .unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

fn file(path: &str, content: &str) -> ConfigFile {
    ConfigFile {
        path: path.into(),
        symlink_target: None,
        content: content.into(),
        source: Source::live(path),
    }
}

fn masked(path: &str) -> ConfigFile {
    ConfigFile {
        path: path.into(),
        symlink_target: Some("/dev/null".into()),
        content: String::new(),
        source: Source::live(path),
    }
}

const BNF: &str = "net.bridge.bridge-nf-call-iptables";

#[test]
fn centos7_vendor_file_wins_without_override() {
    let files = [
        file(
            "/usr/lib/sysctl.d/00-system.conf",
            &fixture("centos7_usr_lib_sysctl.d_00-system.conf"),
        ),
        // Today's kubeadm docs: only ip_forward.
        file(
            "/etc/sysctl.d/k8s.conf",
            &fixture("kubernetes_docs_etc_sysctl.d_k8s.conf_current"),
        ),
    ];
    for order in [Order::Systemd, Order::Procps, Order::Procps2018] {
        let boot = BootSysctl::evaluate(&files, order);
        let a = boot.value(BNF).expect("set by 00-system.conf");
        assert_eq!(a.value, "0", "{order:?}");
        assert_eq!(a.file, "/usr/lib/sysctl.d/00-system.conf");
        assert_eq!(
            boot.value("net.ipv4.ip_forward").map(|a| a.value.as_str()),
            Some("1")
        );
    }
}

#[test]
fn legacy_kubeadm_k8s_conf_sorts_after_00_system() {
    let files = [
        file(
            "/usr/lib/sysctl.d/00-system.conf",
            &fixture("centos7_usr_lib_sysctl.d_00-system.conf"),
        ),
        file(
            "/etc/sysctl.d/k8s.conf",
            &fixture("kubernetes_docs_etc_sysctl.d_k8s.conf_legacy_v1.2x"),
        ),
    ];
    let boot = BootSysctl::evaluate(&files, Order::Systemd);
    let a = boot.value(BNF).expect("set");
    assert_eq!(
        (a.value.as_str(), a.file.as_str()),
        ("1", "/etc/sysctl.d/k8s.conf")
    );
    assert_eq!(boot.history(BNF).len(), 2);
    assert_eq!(
        boot.applied,
        ["/usr/lib/sysctl.d/00-system.conf", "/etc/sysctl.d/k8s.conf"]
    );
}

#[test]
fn same_name_in_etc_overrides_and_dev_null_masks() {
    let files = [
        file(
            "/usr/lib/sysctl.d/50-default.conf",
            &fixture("systemd_usr_lib_sysctl.d_50-default.conf"),
        ),
        masked("/etc/sysctl.d/50-default.conf"),
    ];
    let boot = BootSysctl::evaluate(&files, Order::Systemd);
    assert!(boot.value("net.ipv4.conf.all.rp_filter").is_none());
    assert!(boot.applied.is_empty());
    // Without the mask, systemd's vendor file sets loose mode.
    let boot = BootSysctl::evaluate(&files[..1], Order::Systemd);
    assert_eq!(
        boot.value("net.ipv4.conf.all.rp_filter")
            .map(|a| a.value.as_str()),
        Some("2")
    );
}

#[test]
fn run_vs_etc_same_name_differs_between_procps_versions() {
    let files = [
        file("/etc/sysctl.d/10-fwd.conf", "net.ipv4.ip_forward = 1\n"),
        file("/run/sysctl.d/10-fwd.conf", "net.ipv4.ip_forward = 0\n"),
    ];
    let v = |o| {
        BootSysctl::evaluate(&files, o)
            .value("net.ipv4.ip_forward")
            .map(|a| a.value.clone())
    };
    assert_eq!(v(Order::Systemd).as_deref(), Some("1"));
    assert_eq!(v(Order::Procps).as_deref(), Some("1"));
    assert_eq!(v(Order::Procps2018).as_deref(), Some("0"));
}

#[test]
fn etc_sysctl_conf_is_last_for_procps_only() {
    let files = [
        file(
            "/etc/sysctl.conf",
            &fixture("rhel6_style_etc_sysctl.conf_real_host.conf"),
        ),
        file("/etc/sysctl.d/99-k8s.conf", "net.ipv4.ip_forward = 1\n"),
    ];
    let fwd = |o| {
        BootSysctl::evaluate(&files, o)
            .value("net.ipv4.ip_forward")
            .map(|a| (a.value.clone(), a.file.clone()))
    };
    assert_eq!(
        fwd(Order::Systemd),
        Some(("1".into(), "/etc/sysctl.d/99-k8s.conf".into()))
    );
    assert_eq!(
        fwd(Order::Procps),
        Some(("0".into(), "/etc/sysctl.conf".into()))
    );
}

#[test]
fn systemd_globs_and_exclusions_from_the_man_page() {
    let files = [file(
        "/etc/sysctl.d/20-rp_filter.conf",
        &fixture("systemd_man_example_etc_sysctl.d_20-rp_filter.conf"),
    )];
    let boot = BootSysctl::evaluate(&files, Order::Systemd);
    let rp = |k: &str| boot.value(k).map(|a| a.value.clone());
    assert_eq!(rp("net.ipv4.conf.eth0.rp_filter").as_deref(), Some("2"));
    assert_eq!(rp("net.ipv4.conf.default.rp_filter").as_deref(), Some("2"));
    assert_eq!(rp("net.ipv4.conf.hub0.rp_filter").as_deref(), Some("1"));
    assert_eq!(rp("net.ipv4.conf.all.rp_filter"), None, "excluded by -key");
    // An explicit key earlier in order still beats a later glob under systemd.
    let files = [
        file(
            "/etc/sysctl.d/10-a.conf",
            "net.ipv4.conf.eth0.rp_filter = 0\n",
        ),
        file("/etc/sysctl.d/90-b.conf", "net.ipv4.conf.*.rp_filter = 1\n"),
    ];
    let v = |o| {
        BootSysctl::evaluate(&files, o)
            .value("net.ipv4.conf.eth0.rp_filter")
            .map(|a| a.value.clone())
    };
    assert_eq!(v(Order::Systemd).as_deref(), Some("0"));
    assert_eq!(v(Order::Procps).as_deref(), Some("1"));
}

#[test]
fn keys_in_slash_form_and_dotted_interfaces() {
    assert_eq!(
        canonical_key("net/ipv4/conf/enp3s0.200/forwarding"),
        "net.ipv4.conf.enp3s0/200.forwarding"
    );
    assert_eq!(
        canonical_key("net.ipv4.conf.enp3s0/200.forwarding"),
        "net.ipv4.conf.enp3s0/200.forwarding"
    );
    assert_eq!(
        canonical_key("/proc/sys/net/ipv4/ip_forward"),
        "net.ipv4.ip_forward"
    );
    let files = [file(
        "/etc/sysctl.d/x.conf",
        "net/ipv4/ip_forward=1\n  ; comment\nbogus line\n",
    )];
    let boot = BootSysctl::evaluate(&files, Order::Systemd);
    assert_eq!(boot.value("net.ipv4.ip_forward").map(|a| a.line), Some(1));
    assert_eq!(boot.problems.len(), 1);
    assert!(
        boot.problems[0].starts_with("/etc/sysctl.d/x.conf:3:"),
        "{:?}",
        boot.problems
    );
}

#[test]
fn dropin_sorts_after_everything_and_is_reused() {
    let files = [
        file("/usr/lib/sysctl.d/99-vendor.conf", ""),
        file("/etc/sysctl.d/99-sysctl.conf", ""),
    ];
    let name = dropin_name(&files);
    assert!(
        files
            .iter()
            .all(|f| f.path.rsplit('/').next().unwrap_or("") < name.as_str()),
        "{name}"
    );
    let mut more = files.to_vec();
    more.push(file(
        &format!("/etc/sysctl.d/{name}"),
        "# netdoctor fix: ip-forward-disabled\nnet.ipv4.ip_forward = 1\n",
    ));
    assert_eq!(dropin_name(&more), name, "netdoctor's own file is reused");
    assert_eq!(
        dropin_name(&[file("/etc/sysctl.d/k8s.conf", "")]),
        "z99-netdoctor.conf"
    );
    assert_eq!(dropin_name(&[]), "99-netdoctor.conf");
}

/// issue #11: names that sort after `z` made the name search loop for ever.
#[test]
fn dropin_names_after_z_and_non_ascii_terminate() {
    for odd in [
        "~old.conf",
        "zzzz.conf",
        "\u{00e9}t\u{00e9}.conf",
        "\u{7fff}.conf",
    ] {
        let files = [file(&format!("/etc/sysctl.d/{odd}"), "a = 1\n")];
        let name = dropin_name(&files);
        assert!(name.as_str() > odd, "{name} <= {odd}");
        assert!(name.ends_with(".conf"), "{name}");
    }
}

/// A user's file called 99-netdoctor.conf is the user's: never reused, never taken over.
#[test]
fn a_users_file_is_never_netdoctors_by_its_name() {
    let files = [file(
        "/etc/sysctl.d/99-netdoctor.conf",
        "net.core.somaxconn = 1024\nvm.swappiness = 10\n",
    )];
    let name = dropin_name(&files);
    assert_ne!(name, "99-netdoctor.conf");
    assert!(name.as_str() > "99-netdoctor.conf");
}
