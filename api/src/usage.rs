//! The table `repy run --usage` prints at the end: each resource's limit and what the
//! program used of it.

use repy_policy::{Nanny, Resource, ResourceClass, Restrictions};

/// One line per resource in restrictions.md §3 order.
pub fn report(restrictions: &Restrictions, nanny: &Nanny, (peak_heap, cpu_micros): (u64, u64)) -> String {
    let metered = nanny.usage();
    let mut out = format!("{:<12} {:>14} {:>16}  {}\n", "resource", "limit", "used", "unit");
    for &resource in Resource::ALL {
        let limit = restrictions.value(resource).to_string();
        let (used, unit) = match resource {
            Resource::Cpu => (format!("{:.3}", cpu_micros as f64 / 1e6), "CPU seconds in all".to_owned()),
            Resource::Memory => (peak_heap.to_string(), "peak heap bytes".to_owned()),
            Resource::Diskused => disk_used(),
            Resource::Messport | Resource::Connport => {
                out.push_str(&format!("{:<12} {:>14}\n", resource.name(), restrictions.ports(resource).to_string()));
                continue;
            }
            _ => {
                let used = metered.iter().find(|(r, _)| *r == resource).map_or(0.0, |(_, u)| *u);
                let unit = match resource.class() {
                    ResourceClass::Fungible => "most held at once".to_owned(),
                    _ => format!("{} in all", resource.unit().trim_end_matches("/s")),
                };
                (format!("{used:.0}"), unit)
            }
        };
        out.push_str(&format!("{:<12} {:>14} {:>16}  {}\n", resource.name(), limit, used, unit));
    }
    out
}

/// Disk use is measured on the vessel directory, not metered per call.
fn disk_used() -> (String, String) {
    let used = std::env::current_dir()
        .ok()
        .and_then(|d| repy_contract::disk::vessel_disk_usage(&d).ok())
        .map_or_else(|| "?".to_owned(), |u| u.to_string());
    (used, "bytes (files + 4096 each)".to_owned())
}
