//! `getruntime`, `randomfloat`, `get_thread_name` and `exitall` (repy-api.md §8).

use repy_policy::Resource;
use ring::rand::{SecureRandom, SystemRandom};

use crate::runtime::Runtime;

api_function! {
    /// Seconds since the program started.
    fn getruntime(call) {
        call.check_rules()?;
        Ok(call.vm.ctx.new_float(call.rt.elapsed()).into())
    }
}

/// 53 random bits from the OS generator, scaled into [0, 1).
pub fn random_unit_float() -> Result<f64, ring::error::Unspecified> {
    let mut bytes = [0u8; 8];
    SystemRandom::new().fill(&mut bytes)?;
    let bits = u64::from_le_bytes(bytes) >> 11;
    Ok(bits as f64 / (1u64 << 53) as f64)
}

api_function! {
    /// A random float in [0, 1) from the OS generator, charged to `random`.
    fn randomfloat(call) {
        call.check_rules()?;
        call.wait_for(Resource::Random)?;
        let value = random_unit_float().map_err(|_| call.vm.new_runtime_error("randomfloat: the OS random generator failed".to_owned()))?;
        call.charge(Resource::Random, 1.0)?;
        Ok(call.vm.ctx.new_float(value).into())
    }
}

api_function! {
    /// The name of the calling thread (`MainThread`, `_EVENT:Thread:N`, `_COMMH:Thread:N`).
    fn get_thread_name(call) {
        call.check_rules()?;
        Ok(call.vm.ctx.new_str(Runtime::thread_name()).into())
    }
}

api_function! {
    /// Ends the program at once, with status 0.
    fn exitall(call) {
        call.check_rules()?;
        call.rt.exit()
    }
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
