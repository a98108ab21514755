//! `rp-filter-strict`, `rp-filter-loose`. The kernel validates a source on interface X with
//! max(conf.all.rp_filter, conf.X.rp_filter) (Documentation/networking/ip-sysctl.rst).

use netdoctor_model::Cause;

use crate::context::{is_cni_device, tunnel_overhead, Context};
use crate::outcome::{finding, restart, sysctl, Outcome, WithActions};
use netdoctor_model::{Severity, Sourced};

fn value<'a>(ctx: &Context<'a>, key: &str) -> Option<(u8, &'a Sourced<String>)> {
    let v = ctx.sysctl(key)?;
    Some((v.value.trim().parse().ok()?, v))
}

pub fn check(ctx: &Context, out: &mut Outcome) {
    let Some(all) = value(ctx, "net.ipv4.conf.all.rp_filter") else {
        if ctx.snap.sysctls.is_some() {
            out.not_checked(
                Cause::RpFilterStrict.id(),
                "net.ipv4.conf.all.rp_filter is not in the sysctl input",
            );
        }
        return;
    };
    strict(ctx, out, all);
    loose(ctx, out, all);
    cni_devices(ctx, out, all);
}

/// Cilium's own devices (lxc*, cilium_host, cilium_net): its datapath redirects pod traffic
/// between them, which reverse-path filtering does not expect, so Cilium needs rp_filter 0 there.
/// systemd 245+ applies `net.ipv4.conf.*.rp_filter = 2` to every new interface.
fn cni_devices(ctx: &Context, out: &mut Outcome, all: (u8, &Sourced<String>)) {
    let cilium = ctx.cni().as_deref() == Some("cilium");
    if !cilium {
        return;
    }
    let Some(sysctls) = ctx.sysctls_all() else {
        return;
    };
    let mut evidence = vec![format!(
        "net.ipv4.conf.all.rp_filter = {} (runtime, {})",
        all.1.value, all.1.source
    )];
    let mut devices = Vec::new();
    for (k, v) in sysctls {
        let Some(dev) = k
            .strip_prefix("net.ipv4.conf.")
            .and_then(|r| r.strip_suffix(".rp_filter"))
        else {
            continue;
        };
        if !(dev.starts_with("lxc") || dev.starts_with("cilium_")) {
            continue;
        }
        let own: u8 = v.value.trim().parse().unwrap_or(0);
        let effective = own.max(all.0);
        if effective != 0 {
            evidence.push(format!(
                "{k} = {} (runtime, {}): effective rp_filter on {dev} = max(all, {dev}) = {effective}",
                v.value, v.source
            ));
            devices.push(dev.to_string());
        }
    }
    if devices.is_empty() {
        return;
    }
    let mut runtime: Vec<String> = devices
        .iter()
        .map(|d| {
            format!(
                "sysctl -w net.ipv4.conf.{}.rp_filter=0",
                d.replace('.', "/")
            )
        })
        .collect();
    if all.0 != 0 {
        runtime.insert(0, "sysctl -w net.ipv4.conf.all.rp_filter=0".into());
    }
    // Boot files get globs, never a pod's device name (those change with every pod).
    let mut actions = vec![
        sysctl("net.ipv4.conf.lxc*.rp_filter", "0", false, true),
        sysctl("net.ipv4.conf.cilium_*.rp_filter", "0", false, true),
    ];
    actions.extend(devices.iter().map(|d| {
        sysctl(
            &format!("net.ipv4.conf.{}.rp_filter", d.replace('.', "/")),
            "0",
            true,
            false,
        )
    }));
    if all.0 != 0 {
        actions.push(sysctl("net.ipv4.conf.all.rp_filter", "0", true, true));
    }
    let info = Cause::RpFilterOnCniDevice.info();
    out.add(
        finding(
            Cause::RpFilterOnCniDevice,
            Severity::Critical,
            format!(
                "Reverse-path filtering is on for Cilium's devices ({}): their pod traffic is dropped",
                devices.join(", ")
            ),
            evidence,
            info.explanation,
            runtime,
            vec![
                "add `net.ipv4.conf.lxc*.rp_filter = 0` and `net.ipv4.conf.cilium_*.rp_filter = 0` to a sysctl.d drop-in that sorts after systemd's 50-default.conf (globs: never name a pod's device in a boot file)".into(),
            ],
        )
        .with(actions),
    );
}

/// Interfaces on which pod or tunnelled traffic arrives.
fn receiving_interfaces(ctx: &Context) -> Vec<String> {
    let mut names: Vec<String> = ctx
        .links()
        .iter()
        // Not cali*: Calico sets rp_filter = 1 on its workload interfaces on purpose (felix
        // routes each pod's /32 to its own cali device, so the check is symmetric there).
        .filter(|l| tunnel_overhead(l).is_some())
        .map(|l| l.name.clone())
        .collect();
    if ctx.snap.links.is_none() {
        // No link list: fall back to the per-interface sysctls of CNI devices.
        if let Some(all) = ctx.sysctls_all() {
            for k in all.keys() {
                if let Some(i) = k
                    .strip_prefix("net.ipv4.conf.")
                    .and_then(|r| r.strip_suffix(".rp_filter"))
                {
                    if is_cni_device(i)
                        && !matches!(i, "all" | "default")
                        && !i.starts_with("cali")
                        && !i.starts_with("lxc")
                        && !i.starts_with("cilium_")
                        && !i.starts_with("veth")
                    {
                        names.push(i.to_string());
                    }
                }
            }
        }
    }
    names
}

fn strict(ctx: &Context, out: &mut Outcome, all: (u8, &Sourced<String>)) {
    for ifname in receiving_interfaces(ctx) {
        let key = format!("net.ipv4.conf.{}.rp_filter", ifname.replace('.', "/"));
        let own = value(ctx, &key);
        let effective = own.map_or(all.0, |o| o.0.max(all.0));
        if effective != 1 {
            continue;
        }
        let mut evidence = vec![format!(
            "net.ipv4.conf.all.rp_filter = {} (runtime, {})",
            all.1.value, all.1.source
        )];
        if let Some((_, s)) = own {
            evidence.push(format!("{key} = {} (runtime, {})", s.value, s.source));
        }
        evidence.push(format!(
            "effective rp_filter on {ifname} = max(all, {ifname}) = 1 (strict)"
        ));
        // Strict mode drops a packet whose source is routed back out another interface. Show
        // it where the routes prove it: a pod subnet that arrives here but is routed elsewhere.
        let asym = asymmetric_sources(ctx, &ifname);
        let severity = if asym.is_empty() {
            Severity::Warning
        } else {
            Severity::Critical
        };
        evidence.extend(asym);
        let which =
            if ifname.contains('.') || ifname.starts_with("flannel") || ifname.starts_with("vxlan")
            {
                "tunnelled"
            } else {
                "pod"
            };
        let runtime = if all.0 == 1 {
            vec![
                "sysctl -w net.ipv4.conf.all.rp_filter=2".to_string(),
                format!("sysctl -w {key}=2"),
            ]
        } else {
            vec![format!("sysctl -w {key}=2")]
        };
        let mut actions = vec![sysctl(&key, "2", true, true)];
        if all.0 == 1 {
            actions.push(sysctl("net.ipv4.conf.all.rp_filter", "2", true, true));
        }
        let mut persistent = ctx.persistent_sysctl(&key, "2");
        if all.0 == 1 {
            persistent.extend(ctx.persistent_sysctl("net.ipv4.conf.all.rp_filter", "2"));
        }
        out.add(
            finding(
                Cause::RpFilterStrict,
                severity,
                format!("Strict reverse-path filtering on {ifname}, where {which} traffic arrives"),
                evidence,
                format!(
                "With strict rp_filter the kernel drops a packet arriving on {ifname} unless the \
                 route back to its source leaves through {ifname} too. Overlay and pod traffic is \
                 often asymmetric (a reply or a SNATed flow comes in over the tunnel but the \
                 route to its source points at the uplink, or the other way round), so packets \
                 vanish without any log unless net.ipv4.conf.all.log_martians=1. Loose mode (2) \
                 keeps spoofing protection without the symmetry requirement. Verify: \
                 `sysctl net.ipv4.conf.all.rp_filter net.ipv4.conf.{ifname}.rp_filter`, then \
                 `nstat -az TcpExtIPReversePathFilter` grows while traffic fails."
            ),
                runtime,
                persistent,
            )
            .with(actions),
        );
    }
}

/// Evidence lines for pod subnets routed through a device other than `ifname` although they
/// belong to the overlay that arrives on `ifname`.
fn asymmetric_sources(ctx: &Context, ifname: &str) -> Vec<String> {
    let Some(cluster) = &ctx.hints.cluster_cidr else {
        return Vec::new();
    };
    let own = ctx.hints.pod_cidr.as_ref().map(|p| p.value);
    let mut lines = Vec::new();
    for r in ctx.routes() {
        if r.table != netdoctor_model::TABLE_MAIN
            || !cluster.value.contains(&r.dst)
            || own.is_some_and(|o| o.contains(&r.dst) || r.dst.contains(&o))
        {
            continue;
        }
        let Some(dev) = r.dev.as_deref() else {
            continue;
        };
        if dev != ifname && tunnel_overhead_by_name(ctx, dev).is_none() && !dev.starts_with("cali")
        {
            lines.push(format!(
                "pod subnet {} is routed via {dev}, not {ifname} [{}]: its packets arriving on {ifname} fail the strict check",
                r.dst, r.source
            ));
        }
    }
    lines
}

fn tunnel_overhead_by_name(ctx: &Context, dev: &str) -> Option<u32> {
    ctx.snap.link(dev).and_then(tunnel_overhead).map(|(o, _)| o)
}

fn loose(ctx: &Context, out: &mut Outcome, all: (u8, &Sourced<String>)) {
    if all.0 != 2 || ctx.cni().as_deref() != Some("calico") {
        return;
    }
    out.add(
        finding(
            Cause::RpFilterLoose,
            Severity::Warning,
            "Loose reverse-path filtering: Calico felix (before v3.12) refuses to start",
            vec![format!(
                "net.ipv4.conf.all.rp_filter = {} (runtime, {})",
                all.1.value, all.1.source
            )],
            LOOSE_EXPLANATION,
            vec!["sysctl -w net.ipv4.conf.all.rp_filter=1".into()],
            ctx.persistent_sysctl("net.ipv4.conf.all.rp_filter", "1"),
        )
        .with(loose_actions()),
    );
}

pub const LOOSE_EXPLANATION: &str =
    "systemd v240 and later ship /usr/lib/sysctl.d/50-default.conf with \
    net.ipv4.conf.all.rp_filter = 2 (loose); Ubuntu 20.04 and Fedora CoreOS inherit it. Calico \
    felix before v3.12 checks this value at startup and exits with a FATAL \"Kernel's RPF check is \
    set to 'loose'\" error, so calico-node crash-loops and no pod on the node gets networking. Set \
    it to 1 (or 0) in a file that sorts after 50-default.conf, or set felix's IgnoreLooseRPF / \
    upgrade Calico. Verify with `sysctl net.ipv4.conf.all.rp_filter` and the calico-node log.";

/// Set rp_filter to strict (1) at boot and now, then let calico-node start again.
pub fn loose_actions() -> Vec<netdoctor_model::Action> {
    vec![
        sysctl("net.ipv4.conf.all.rp_filter", "1", true, true),
        restart("calico-node (kubectl -n kube-system delete pod -l k8s-app=calico-node --field-selector spec.nodeName=<node>)", "felix checks rp_filter only at start"),
    ]
}
