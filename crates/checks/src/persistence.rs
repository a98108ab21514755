//! `sysctl-not-persistent`, `sysctl-overridden`, `module-not-persistent`: will the node still
//! be right after a reboot, a network restart or a VM resume? Compared against the boot-time
//! values `bootconf` computes from the node's files.

use netdoctor_model::Cause;

use crate::context::Context;
use crate::outcome::{finding, sysctl as set_sysctl, Outcome, WithActions};
use netdoctor_bootconf::BootSysctl;
use netdoctor_model::{Action, Severity};

/// A value Kubernetes networking needs: (key, wanted, kernel default, is the value wrong?).
struct Need {
    key: &'static str,
    want: &'static str,
    kernel_default: &'static str,
    wrong: fn(&str) -> bool,
}

fn needs(ctx: &Context) -> Vec<Need> {
    let mut v = vec![
        Need {
            key: "net.ipv4.ip_forward",
            want: "1",
            kernel_default: "0",
            wrong: |x| x == "0",
        },
        Need {
            key: "net.bridge.bridge-nf-call-iptables",
            want: "1",
            kernel_default: "1",
            wrong: |x| x == "0",
        },
    ];
    if ctx.ipv6_cluster() {
        v.push(Need {
            key: "net.ipv6.conf.all.forwarding",
            want: "1",
            kernel_default: "0",
            wrong: |x| x == "0",
        });
        v.push(Need {
            key: "net.bridge.bridge-nf-call-ip6tables",
            want: "1",
            kernel_default: "1",
            wrong: |x| x == "0",
        });
    }
    if ctx.cni().as_deref() == Some("calico") {
        v.push(Need {
            key: "net.ipv4.conf.all.rp_filter",
            want: "1",
            kernel_default: "0",
            wrong: |x| x == "2",
        });
    }
    v
}

pub fn check(ctx: &Context, out: &mut Outcome) {
    let (Some(boot), Some(procps)) = (&ctx.boot, &ctx.boot_procps) else {
        for id in [
            Cause::SysctlNotPersistent.id(),
            Cause::SysctlOverridden.id(),
            Cause::ModuleNotPersistent.id(),
        ] {
            out.not_checked(
                id,
                "the node's boot configuration was not read: run on the node (or pass --root), \
                 or put its /etc/sysctl.d, /usr/lib/sysctl.d, /etc/modules-load.d under root/ in the bundle",
            );
        }
        return;
    };
    for need in needs(ctx) {
        sysctl(ctx, out, &need, boot, procps);
    }
    module(ctx, out);
}

fn sysctl(ctx: &Context, out: &mut Outcome, need: &Need, boot: &BootSysctl, procps: &BootSysctl) {
    let runtime = ctx.sysctl(need.key);
    let runtime_wrong = runtime.is_some_and(|r| (need.wrong)(r.value.trim()));
    let runtime_line =
        runtime.map(|r| format!("{} = {} (runtime, {})", need.key, r.value, r.source));
    let at_boot = boot.value(need.key);
    let by_procps = procps.value(need.key);
    let boot_wrong = at_boot.is_some_and(|a| (need.wrong)(&a.value));
    let procps_wrong = by_procps.is_some_and(|a| (need.wrong)(&a.value));

    if boot_wrong || procps_wrong {
        let mut evidence: Vec<String> = runtime_line.into_iter().collect();
        for (b, wrong) in [(boot, boot_wrong), (procps, procps_wrong)] {
            if let (true, Some(a)) = (wrong, b.value(need.key)) {
                evidence.push(format!(
                    "{} = {} wins in {} ({}){}",
                    need.key,
                    a.value,
                    b.order.describe(),
                    a.location(),
                    if a.glob {
                        format!(", by the glob {}", a.key)
                    } else {
                        String::new()
                    }
                ));
            }
        }
        let history: Vec<String> = boot
            .history(need.key)
            .iter()
            .map(|a| format!("{} sets {}", a.location(), a.value))
            .collect();
        if history.len() > 1 {
            evidence.push(format!("in boot order: {}", history.join(", then ")));
        }
        // Only some files pasted: a file not shown may still set it right after this one.
        let partial = !ctx.snap.files_collected;
        if partial {
            evidence.push(
                "only some of the node's sysctl files were given: a file not shown that sorts later could still set it right"
                    .into(),
            );
        }
        let (sev, title) = if runtime_wrong && !partial {
            (
                Severity::Critical,
                format!(
                    "A configuration file sets {} wrong, and it wins at boot",
                    need.key
                ),
            )
        } else if runtime_wrong {
            (
                Severity::Warning,
                format!(
                    "A configuration file sets {} wrong (whether it wins at boot depends on files not shown)",
                    need.key
                ),
            )
        } else if runtime.is_some() {
            (
                Severity::Warning,
                format!(
                    "{} is right now, but a configuration file sets it wrong at the next boot",
                    need.key
                ),
            )
        } else {
            (
                Severity::Warning,
                format!(
                    "A configuration file sets {} wrong at the next boot (its value now is not known)",
                    need.key
                ),
            )
        };
        out.add(
            finding(
                Cause::SysctlOverridden,
                sev,
                title,
                evidence,
                format!(
                "At boot, systemd-sysctl applies every *.conf in /etc/sysctl.d, /run/sysctl.d, \
                 /usr/local/lib/sysctl.d and /usr/lib/sysctl.d sorted by file name, whatever the \
                 directory, and the last assignment of a key wins (a same-named file in /etc \
                 replaces the vendor's); `sysctl --system` does the same and then reads \
                 /etc/sysctl.conf last. The file named above wins that race with the wrong value, \
                 so fixing the value by hand or appending to /etc/sysctl.conf does not survive a \
                 reboot or a `sysctl --system`. The fix is a drop-in whose name sorts after every \
                 other file, never an edit of a vendor file in /usr/lib. Verify with \
                 `systemd-analyze cat-config sysctl.d | grep {}`.",
                need.key
            ),
                if runtime_wrong {
                    vec![format!("sysctl -w {}={}", need.key, need.want)]
                } else {
                    vec![]
                },
                ctx.persistent_sysctl(need.key, need.want),
            )
            .with(vec![set_sysctl(need.key, need.want, runtime_wrong, true)]),
        );
        return;
    }
    // /etc/sysctl.conf counts as the node's own tools read it: `sysctl --system` (procps) reads
    // it last, and the network scripts of older distributions run `sysctl -p` on it, with or
    // without systemd's 99-sysctl.conf link.
    if at_boot.is_none()
        && by_procps.is_none()
        && need.kernel_default != need.want
        && !runtime_wrong
        && runtime.is_some()
    {
        // Absence needs every file: with only some pasted, a file not shown may set it.
        if !ctx.snap.files_collected {
            out.not_checked(
                Cause::SysctlNotPersistent.id(),
                format!(
                    "no file given sets {}, but only some of the node's sysctl files were given: put its /etc/sysctl.d, /usr/lib/sysctl.d and /etc/sysctl.conf under root/",
                    need.key
                ),
            );
            return;
        }
        // A boot file that could not be read (not root, a FIFO) may be the one that sets it.
        let unread: Vec<String> = ctx
            .snap
            .not_collected
            .iter()
            .filter(|n| n.part.starts_with("files:") && n.part.contains("sysctl"))
            .map(|n| format!("{} ({})", n.part.trim_start_matches("files:"), n.reason))
            .collect();
        if !unread.is_empty() {
            out.not_checked(
                Cause::SysctlNotPersistent.id(),
                format!(
                    "no file read sets {}, but some could not be read: {}",
                    need.key,
                    unread.join("; ")
                ),
            );
            return;
        }
        let mut evidence: Vec<String> = runtime_line.into_iter().collect();
        evidence.push(format!(
            "no file in sysctl.d or /etc/sysctl.conf sets {} (files read: {}); the kernel default is {}",
            need.key,
            if boot.applied.is_empty() { "none".to_string() } else { boot.applied.join(", ") },
            need.kernel_default
        ));
        out.add(finding(
            Cause::SysctlNotPersistent,
            Severity::Warning,
            format!("{} = {} now, but nothing sets it at boot", need.key, need.want),
            evidence,
            format!(
                "The runtime value is right only because some program wrote it (dockerd, a CNI \
                 plugin, systemd-networkd, or an admin's `sysctl -w`). A reboot, a network \
                 restart, a VM resume or a security scan brings back the kernel default {}, and the \
                 node silently stops routing pod traffic while it still looks Ready. Verify with \
                 `grep -r {} /etc/sysctl.conf /etc/sysctl.d /usr/lib/sysctl.d`.",
                need.kernel_default, need.key
            ),
            vec![],
            ctx.persistent_sysctl(need.key, need.want),
        ).with(vec![set_sysctl(need.key, need.want, false, true)]));
    }
}

fn module(ctx: &Context, out: &mut Outcome) {
    let Some(modules) = &ctx.snap.modules else {
        return;
    };
    let Some(loaded) = &modules.loaded else {
        out.not_checked(
            Cause::ModuleNotPersistent.id(),
            "the loaded module list (/proc/modules, lsmod) is not available",
        );
        return;
    };
    let Some(boot) = &ctx.boot_modules else {
        return;
    };
    if !ctx.snap.files_collected {
        out.not_checked(
            Cause::ModuleNotPersistent.id(),
            "only some of the node's files were given: a modules-load.d file not shown may load it",
        );
        return;
    }
    for name in ["br_netfilter"] {
        let Some(src) = loaded.get(name) else {
            continue;
        };
        // Field notes: a built-in module needs no modules-load.d entry. Built-in modules do not
        // appear in /proc/modules at all, so a listed one is loadable.
        if modules
            .builtin
            .as_ref()
            .is_some_and(|b| b.iter().any(|m| m == name))
            || boot.contains_key(name)
        {
            continue;
        }
        out.add(finding(
            Cause::ModuleNotPersistent,
            Severity::Warning,
            format!("{name} is loaded now, but nothing loads it at boot"),
            vec![
                format!("{name} is loaded [{src}]"),
                format!("no file in /etc/modules-load.d, /usr/lib/modules-load.d or /etc/modules names {name}"),
            ],
            format!(
                "{name} was loaded by hand or as a side effect (dockerd, kube-proxy). After a \
                 reboot it is missing until that program runs, and systemd-sysctl, which runs \
                 early, cannot apply net.bridge.* settings to a module that is not there yet. \
                 Bridged pod traffic then bypasses iptables. Verify with \
                 `grep -r {name} /etc/modules-load.d /usr/lib/modules-load.d /etc/modules`."
            ),
            vec![],
            vec![format!("echo {name} >> /etc/modules-load.d/k8s.conf")],
        ).with(vec![Action::LoadModule { name: name.into(), runtime: false, persistent: true }]));
    }
}
