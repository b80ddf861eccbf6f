//! `getruntime`, `randomfloat`, `get_thread_name` and `exitall` (repy-api.md §8).

use std::sync::Arc;

use repy_policy::Resource;
use ring::rand::{SecureRandom, SystemRandom};
use rustpython_vm::{function::FuncArgs, PyResult, VirtualMachine};

use crate::{args::bind, runtime::Runtime};

pub fn getruntime(rt: &Arc<Runtime>, args: FuncArgs, vm: &VirtualMachine) -> PyResult {
    let bound = bind("getruntime", &[], 0, args).map_err(|m| rt.arg_error(vm, m))?;
    rt.check_call(vm, "getruntime", &bound)?;
    Ok(vm.ctx.new_float(rt.elapsed()).into())
}

/// 53 random bits from the OS generator, scaled into [0, 1).
pub fn random_unit_float() -> Result<f64, ring::error::Unspecified> {
    let mut bytes = [0u8; 8];
    SystemRandom::new().fill(&mut bytes)?;
    let bits = u64::from_le_bytes(bytes) >> 11;
    Ok(bits as f64 / (1u64 << 53) as f64)
}

pub fn randomfloat(rt: &Arc<Runtime>, args: FuncArgs, vm: &VirtualMachine) -> PyResult {
    let bound = bind("randomfloat", &[], 0, args).map_err(|m| rt.arg_error(vm, m))?;
    rt.check_call(vm, "randomfloat", &bound)?;
    rt.wait_for(vm, "randomfloat", Resource::Random)?;
    let value = random_unit_float().map_err(|_| vm.new_runtime_error("randomfloat: the OS random generator failed".to_owned()))?;
    rt.charge(vm, "randomfloat", Resource::Random, 1.0)?;
    Ok(vm.ctx.new_float(value).into())
}

pub fn get_thread_name(rt: &Arc<Runtime>, args: FuncArgs, vm: &VirtualMachine) -> PyResult {
    let bound = bind("get_thread_name", &[], 0, args).map_err(|m| rt.arg_error(vm, m))?;
    rt.check_call(vm, "get_thread_name", &bound)?;
    Ok(vm.ctx.new_str(Runtime::thread_name()).into())
}

pub fn exitall(rt: &Arc<Runtime>, args: FuncArgs, vm: &VirtualMachine) -> PyResult {
    let bound = bind("exitall", &[], 0, args).map_err(|m| rt.arg_error(vm, m))?;
    rt.check_call(vm, "exitall", &bound)?;
    rt.exit()
}

#[cfg(test)]
mod tests {
    #[test]
    fn random_floats_are_in_the_unit_interval_and_vary() {
        let values: Vec<f64> = (0..1000).map(|_| super::random_unit_float().unwrap()).collect();
        assert!(values.iter().all(|v| (0.0..1.0).contains(v)));
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        assert!((0.4..0.6).contains(&mean), "mean {mean}");
        assert!(values.windows(2).any(|w| w[0] != w[1]));
    }
}
