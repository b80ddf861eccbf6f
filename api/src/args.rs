//! Binding an API call's positional and keyword arguments to its parameter names, with
//! errors that name the function and the parameter.

use rustpython_vm::{function::FuncArgs, PyObjectRef, VirtualMachine};

/// The arguments of one call, in parameter order; `None` for omitted optional ones.
pub struct Bound {
    pub function: &'static str,
    values: Vec<Option<PyObjectRef>>,
}

/// Binds `args` to `params`; the first `required` parameters must be given.
pub fn bind(function: &'static str, params: &[&'static str], required: usize, args: FuncArgs) -> Result<Bound, String> {
    if args.args.len() > params.len() {
        return Err(format!(
            "{function}: takes at most {} argument{} ({} given)",
            params.len(),
            if params.len() == 1 { "" } else { "s" },
            args.args.len()
        ));
    }
    let mut values: Vec<Option<PyObjectRef>> = vec![None; params.len()];
    for (slot, value) in values.iter_mut().zip(args.args) {
        *slot = Some(value);
    }
    for (name, value) in args.kwargs {
        let name = name.into_string_lossy();
        let Some(index) = params.iter().position(|p| *p == name) else {
            return Err(format!("{function}: unexpected keyword argument '{name}'"));
        };
        if values[index].is_some() {
            return Err(format!("{function}: got multiple values for argument '{name}'"));
        }
        values[index] = Some(value);
    }
    if let Some(missing) = values.iter().take(required).position(Option::is_none) {
        return Err(format!("{function}: missing required argument '{}'", params[missing]));
    }
    Ok(Bound { function, values })
}

impl Bound {
    /// A required argument (binding guarantees presence).
    pub fn get(&self, index: usize) -> PyObjectRef {
        self.values[index].clone().expect("required argument is bound")
    }

    /// An optional argument; `None` both when omitted and when passed as Python `None`.
    pub fn opt(&self, index: usize, vm: &VirtualMachine) -> Option<PyObjectRef> {
        self.values[index].clone().filter(|v| !vm.is_none(v))
    }

    /// Whether the argument was passed at all (even as `None`).
    pub fn given(&self, index: usize) -> bool {
        self.values[index].is_some()
    }

    /// The arguments the program passed, in parameter order, stopping at the first omitted
    /// one: what call rules see (restrictions.md §2).
    pub fn passed(&self) -> Vec<PyObjectRef> {
        self.values.iter().map_while(Clone::clone).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustpython_vm::{function::KwArgs, Interpreter};

    fn call(positional: usize, keywords: &[&str]) -> Result<Vec<bool>, String> {
        Interpreter::without_stdlib(Default::default()).enter(|vm| {
            let args: Vec<PyObjectRef> = (0..positional).map(|i| vm.ctx.new_int(i).into()).collect();
            let kwargs: KwArgs = keywords.iter().map(|k| (k.to_string(), vm.ctx.none())).collect();
            let bound = bind("f", &["a", "b", "c"], 1, FuncArgs::new(args, kwargs))?;
            Ok((0..3).map(|i| bound.given(i)).collect())
        })
    }

    #[test]
    fn binds_positional_and_keyword_arguments() {
        assert_eq!(call(1, &[]).unwrap(), [true, false, false]);
        assert_eq!(call(1, &["c"]).unwrap(), [true, false, true]);
        assert_eq!(call(0, &["a", "b"]).unwrap(), [true, true, false]);
    }

    #[test]
    fn reports_the_culprit() {
        assert_eq!(call(0, &[]).unwrap_err(), "f: missing required argument 'a'");
        assert_eq!(call(4, &[]).unwrap_err(), "f: takes at most 3 arguments (4 given)");
        assert_eq!(call(1, &["a"]).unwrap_err(), "f: got multiple values for argument 'a'");
        assert_eq!(call(1, &["zz"]).unwrap_err(), "f: unexpected keyword argument 'zz'");
    }

    #[test]
    fn passed_stops_at_the_first_omitted_argument() {
        Interpreter::without_stdlib(Default::default()).enter(|vm| {
            let kwargs: KwArgs = [("c".to_owned(), vm.ctx.none())].into_iter().collect();
            let bound = bind("f", &["a", "b", "c"], 1, FuncArgs::new(vec![vm.ctx.new_int(1).into()], kwargs)).unwrap();
            assert_eq!(bound.passed().len(), 1);
        });
    }
}
