//! The catalogue of root causes: every finding id netdoctor can raise, declared once with its
//! step in the reasoning, default severity, the inputs it needs, whether it shows only after a
//! reboot, and the words a report uses when a check has nothing more specific to say.
//!
//! Checks, signatures, the reasoning steps, `fix`, `check --list` and the tests all read
//! [`Cause`]; no other place spells an id. To add a root cause: add an entry to
//! `catalogue/causes.rs`, a check (or signatures) that raises it, and their tests.

use crate::Severity;
use serde::Serialize;

/// The steps of the reasoning, in the order an expert goes when "the pod can't reach the
/// service": is the app there, is the IP right, is there a route, do the rules let it through,
/// are the kernel switches right.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    App,
    Ip,
    Route,
    Rules,
    Kernel,
}

impl Step {
    pub const ALL: [Step; 5] = [Step::App, Step::Ip, Step::Route, Step::Rules, Step::Kernel];

    pub fn as_str(self) -> &'static str {
        match self {
            Step::App => "app",
            Step::Ip => "ip",
            Step::Route => "route",
            Step::Rules => "rules",
            Step::Kernel => "kernel",
        }
    }

    /// The question the step answers.
    pub fn question(self) -> &'static str {
        match self {
            Step::App => "Are the cluster's components (Services, endpoints, kube-proxy, the CNI agent, DNS) working on this node?",
            Step::Ip => "Are this node's addresses, overlay device and MTU right for reaching other pods?",
            Step::Route => "Is there a route, neighbour and FDB entry for every other node's pods?",
            Step::Rules => "Do the firewall rules let pod, overlay and Service traffic through?",
            Step::Kernel => "Are the kernel switches and modules right, now and after a reboot?",
        }
    }
}

/// What a check needs to decide about a cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Input {
    Sysctls,
    Modules,
    Links,
    Addresses,
    Routes,
    Fdb,
    /// iptables / nft rule sets.
    Rules,
    Conntrack,
    Logs,
    /// The node's boot configuration files (sysctl.d, modules-load.d, CNI config).
    NodeFiles,
    /// Kubernetes objects (kubectl JSON/YAML, the live API).
    ClusterObjects,
    /// Versions of the kernel and the tools (`uname -r`, `iptables -V`, ...).
    Versions,
    /// What the user knows of the cluster: CIDRs, the CNI (flags, cluster.json).
    Context,
    /// Active probes from this node (`check --probe`, `netdoctor probe`).
    Probes,
}

impl Input {
    pub fn as_str(self) -> &'static str {
        match self {
            Input::Sysctls => "sysctls",
            Input::Modules => "modules",
            Input::Links => "links",
            Input::Addresses => "addresses",
            Input::Routes => "routes",
            Input::Fdb => "fdb",
            Input::Rules => "rules",
            Input::Conntrack => "conntrack",
            Input::Logs => "logs",
            Input::NodeFiles => "node-files",
            Input::ClusterObjects => "cluster-objects",
            Input::Versions => "versions",
            Input::Context => "context",
            Input::Probes => "probes",
        }
    }
}

/// One root cause, as the catalogue declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct CauseInfo {
    #[serde(skip)]
    pub cause: Cause,
    pub id: &'static str,
    pub step: Step,
    pub severity: Severity,
    pub needs: &'static [Input],
    /// The fault shows only after a reboot (the runtime state is right).
    pub after_reboot: bool,
    pub title: &'static str,
    pub explanation: &'static str,
    pub fix: &'static [&'static str],
}

macro_rules! catalogue {
    ($( $variant:ident {
        id: $id:literal,
        step: $step:ident,
        severity: $sev:ident,
        needs: [$($need:ident),* $(,)?],
        after_reboot: $reboot:literal,
        title: $title:literal,
        explanation: $explanation:literal,
        fix: [$($fix:literal),* $(,)?] $(,)?
    } )*) => {
        /// A root cause netdoctor can name. Its words and defaults are in [`CAUSES`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Cause {
            $($variant,)*
        }

        /// Every root cause, in the order of [`Cause`].
        pub const CAUSES: &[CauseInfo] = &[
            $(CauseInfo {
                cause: Cause::$variant,
                id: $id,
                step: Step::$step,
                severity: Severity::$sev,
                needs: &[$(Input::$need),*],
                after_reboot: $reboot,
                title: $title,
                explanation: $explanation,
                fix: &[$($fix),*],
            },)*
        ];
    };
}

include!("catalogue/causes.rs");

impl Cause {
    /// Everything the catalogue says about this cause.
    pub const fn info(self) -> &'static CauseInfo {
        &CAUSES[self as usize]
    }

    /// The stable kebab-case id (`ip-forward-disabled`).
    pub const fn id(self) -> &'static str {
        CAUSES[self as usize].id
    }

    pub const fn step(self) -> Step {
        CAUSES[self as usize].step
    }

    /// The cause an id names, if any.
    pub fn from_id(id: &str) -> Option<Cause> {
        CAUSES.iter().find(|c| c.id == id).map(|c| c.cause)
    }

    /// Every cause, in catalogue order.
    pub fn all() -> impl Iterator<Item = Cause> {
        CAUSES.iter().map(|c| c.cause)
    }
}

/// Causes that explain others: when both are found, the first is the root cause and the second
/// what it leads to (a report ranks the first before the second and says so).
const EXPLAINS: &[(Cause, &[Cause])] = &[
    (
        Cause::BrNetfilterMissing,
        &[Cause::BridgeNfCallIptablesDisabled],
    ),
    (Cause::SysctlOverridden, &[Cause::SysctlNotPersistent]),
    (
        Cause::CniPluginMissing,
        &[Cause::CniConfigMissing, Cause::CniAgentNotRunning],
    ),
    (Cause::CniPluginsOutdated, &[Cause::CniConfigMissing]),
    (Cause::ServiceCidrOverlap, &[Cause::ClusterCidrExhausted]),
    (Cause::ClusterCidrExhausted, &[Cause::PodcidrNotAllocated]),
    (
        Cause::IptablesVersionSkew,
        &[Cause::NftNativeRulesInIptablesTable],
    ),
    (
        Cause::StaleInterfaceAddress,
        &[Cause::PodRouteMissing, Cause::VxlanFdbMissing],
    ),
    (
        Cause::PodCidrOverlap,
        &[Cause::PodRouteConflict, Cause::PodRouteMissing],
    ),
    (
        Cause::PodcidrNotAllocated,
        &[Cause::CniConfigMissing, Cause::CniAgentNotRunning],
    ),
    (Cause::WrongNodeIp, &[Cause::VxlanFdbMissing]),
    (
        Cause::VxlanDeviceDown,
        &[Cause::PodRouteMissing, Cause::VxlanFdbMissing],
    ),
    (Cause::KernelVxlanMissing, &[Cause::VxlanDeviceDown]),
    (
        Cause::DefaultRouteMissing,
        &[Cause::IfaceSelectionMismatch, Cause::CniAgentNotRunning],
    ),
    (
        Cause::CniAgentNotRunning,
        &[Cause::CniConfigMissing, Cause::PodRouteMissing],
    ),
    (
        Cause::IptablesBackendMismatch,
        &[Cause::KubeProxyRulesMissing],
    ),
    (
        Cause::KernelNetfilterFeatureMissing,
        &[Cause::KubeProxyRulesMissing],
    ),
    (Cause::IptablesVersionBuggy, &[Cause::KubeProxyRulesMissing]),
    (
        Cause::XtablesLockContention,
        &[Cause::KubeProxyRulesMissing],
    ),
    (Cause::IpvsModulesMissing, &[Cause::KubeProxyRulesMissing]),
    (
        Cause::NftNativeRulesInIptablesTable,
        &[Cause::KubeProxyRulesMissing],
    ),
];

impl Cause {
    /// The causes this one leads to (see `EXPLAINS`).
    pub fn explains(self) -> &'static [Cause] {
        EXPLAINS
            .iter()
            .find(|(c, _)| *c == self)
            .map_or(&[], |(_, e)| e)
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

/// A finding id in CamelCase (`ip-forward-disabled` -> `IpForwardDisabled`): how a Kubernetes
/// condition or Event reason, and a SARIF rule name, spell it.
pub fn camel_case(id: &str) -> String {
    id.split(['-', '_'])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_is_in_its_place_and_ids_are_unique() {
        for (i, c) in CAUSES.iter().enumerate() {
            assert_eq!(c.cause as usize, i, "{}", c.id);
            assert_eq!(Cause::from_id(c.id), Some(c.cause));
            assert!(
                c.id.chars().all(|ch| ch.is_ascii_lowercase() || ch == '-'),
                "{} is not kebab-case",
                c.id
            );
            assert!(!c.title.is_empty() && !c.explanation.is_empty() && !c.fix.is_empty());
        }
        let mut ids: Vec<&str> = CAUSES.iter().map(|c| c.id).collect();
        ids.sort_unstable();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n, "duplicate ids");
    }
}
