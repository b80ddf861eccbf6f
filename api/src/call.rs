//! The one way the API meets Python. A call's signature is its binding: [`Call::bind`]
//! takes the call's name (as call rules and error messages know it) and its required and
//! optional parameter names, and gives back the arguments as arrays whose lengths are those
//! of the parameter lists, so a function destructures them by name:
//!
//! ```ignore
//! let (call, [desthost, destport], [localip, localport, timeout]) =
//!     Call::bind("openconn", ["desthost", "destport"], ["localip", "localport", "timeout"], rt, vm, args)?;
//! ```
//!
//! Module functions are declared with [`api_function!`](crate::api_function), which writes
//! that line and the entry of the function table from one signature. The [`Call`] carries
//! the name, so checks, charges and errors of the call need not repeat it.

use std::sync::Arc;

use repy_interpreter::exceptions::RepyErrorKind;
use repy_policy::Resource;
use rustpython_vm::{builtins::PyBaseExceptionRef, function::FuncArgs, PyObjectRef, PyResult, VirtualMachine};

use crate::{net::Traffic, runtime::Runtime};

/// One API function as the program's globals (or builtins) hold it.
pub struct ApiFunction {
    pub name: &'static str,
    /// Parameter names, required ones first.
    pub params: &'static [&'static str],
    pub required: usize,
    pub doc: &'static str,
    pub run: fn(&Arc<Runtime>, FuncArgs, &VirtualMachine) -> PyResult,
}

/// One call of an API function or method, its arguments bound.
pub struct Call<'a> {
    pub rt: &'a Arc<Runtime>,
    pub vm: &'a VirtualMachine,
    /// The call's name, as call rules and error messages know it ("sendmess", "file.read").
    pub name: &'static str,
    /// The arguments the program passed, in parameter order, up to the first omitted one:
    /// what call rules see (restrictions.md §2).
    passed: Vec<PyObjectRef>,
}

impl<'a> Call<'a> {
    /// Binds `args` to the `required` and `optional` parameters. An optional argument is
    /// `None` both when omitted and when passed as Python `None`.
    pub fn bind<const R: usize, const O: usize>(
        name: &'static str,
        required: [&'static str; R],
        optional: [&'static str; O],
        rt: &'a Arc<Runtime>,
        vm: &'a VirtualMachine,
        args: FuncArgs,
    ) -> PyResult<(Call<'a>, [PyObjectRef; R], [Option<PyObjectRef>; O])> {
        let call = Call { rt, vm, name, passed: Vec::new() };
        let params = |i: usize| if i < R { required[i] } else { optional[i - R] };
        let count = R + O;
        if args.args.len() > count {
            let plural = if count == 1 { "" } else { "s" };
            return Err(call.arg_error(format!("takes at most {count} argument{plural} ({} given)", args.args.len())));
        }
        let mut values: Vec<Option<PyObjectRef>> = vec![None; count];
        for (slot, value) in values.iter_mut().zip(args.args) {
            *slot = Some(value);
        }
        for (keyword, value) in args.kwargs {
            let keyword = keyword.into_string_lossy();
            let Some(index) = (0..count).find(|&i| params(i) == keyword) else {
                return Err(call.arg_error(format!("unexpected keyword argument '{keyword}'")));
            };
            if values[index].is_some() {
                return Err(call.arg_error(format!("got multiple values for argument '{keyword}'")));
            }
            values[index] = Some(value);
        }
        if let Some(missing) = values[..R].iter().position(Option::is_none) {
            return Err(call.arg_error(format!("missing required argument '{}'", params(missing))));
        }
        let passed = values.iter().map_while(Clone::clone).collect();
        let mut values = values.into_iter();
        let required = std::array::from_fn(|_| values.next().flatten().expect("required arguments are present"));
        let optional = std::array::from_fn(|_| values.next().flatten().filter(|v| !vm.is_none(v)));
        Ok((Call { passed, ..call }, required, optional))
    }

    /// A call that binds its arguments itself (`print`, which takes any number of them).
    pub fn unbound(name: &'static str, rt: &'a Arc<Runtime>, vm: &'a VirtualMachine) -> Call<'a> {
        Call { rt, vm, name, passed: Vec::new() }
    }

    /// A Repy error of `kind` whose message starts with the call's name.
    pub fn error(&self, kind: RepyErrorKind, message: impl std::fmt::Display) -> PyBaseExceptionRef {
        self.rt.error(self.vm, kind, format!("{}: {message}", self.name))
    }

    /// RepyArgumentError naming the call.
    pub fn arg_error(&self, message: impl std::fmt::Display) -> PyBaseExceptionRef {
        self.error(RepyErrorKind::Argument, message)
    }

    /// Applies the call rules to the arguments the program passed.
    pub fn check_rules(&self) -> PyResult<()> {
        self.rt.check_call_args(self.vm, self.name, &self.passed)
    }

    /// Applies the call rules to `args`, for calls whose rules see other arguments than the
    /// ones passed (restrictions.md §2).
    pub fn check_rules_on(&self, args: &[PyObjectRef]) -> PyResult<()> {
        self.rt.check_call_args(self.vm, self.name, args)
    }

    /// The arguments the program passed, up to the first omitted one.
    pub fn passed(&self) -> &[PyObjectRef] {
        &self.passed
    }

    pub fn acquire(&self, resource: Resource) -> PyResult<()> {
        self.rt.acquire(self.vm, self.name, resource)
    }

    pub fn acquire_reclaiming(&self, resource: Resource) -> PyResult<()> {
        self.rt.acquire_reclaiming(self.vm, self.name, resource)
    }

    pub fn charge(&self, resource: Resource, amount: f64) -> PyResult<()> {
        self.rt.charge(self.vm, self.name, resource, amount)
    }

    pub fn wait_for(&self, resource: Resource) -> PyResult<()> {
        self.rt.wait_for(self.vm, self.name, resource)
    }

    /// Takes up to `wanted` units of `resource` before an operation that can be done in
    /// pieces of at least `piece` (see [`Runtime::take`]); returns how many it took.
    pub fn take(&self, resource: Resource, wanted: usize, piece: usize) -> PyResult<usize> {
        self.rt.take(self.vm, self.name, resource, wanted, piece)
    }

    /// Gives back units a [`take`](Self::take) granted that the operation did not use.
    pub fn refund(&self, resource: Resource, unused: usize) {
        self.rt.nanny.refund(resource, unused as f64)
    }

    /// Does an operation of `total` units of `resource` in the pieces the resource grants
    /// (at least `piece` each): `op(done, most)` does up to `most` units from unit `done` on
    /// and returns how many it did; fewer than `most` ends the operation (end of file).
    /// Returns the units done.
    pub fn in_pieces(
        &self,
        resource: Resource,
        total: usize,
        piece: usize,
        mut op: impl FnMut(usize, usize) -> PyResult<usize>,
    ) -> PyResult<usize> {
        let mut done = 0;
        while done < total {
            let most = self.take(resource, total - done, piece)?;
            let did = op(done, most).inspect_err(|_| self.refund(resource, most))?.min(most);
            self.refund(resource, most - did);
            done += did;
            if did < most {
                break;
            }
        }
        Ok(done)
    }

    /// Waits until both resources of `traffic` are within their limits (before an operation).
    pub fn wait_traffic(&self, traffic: Traffic) -> PyResult<()> {
        self.wait_for(traffic.send_resource())?;
        self.wait_for(traffic.recv_resource())
    }

    /// Charges a completed operation: `sent` bytes to the send side, `received` to the receive side.
    pub fn charge_traffic(&self, traffic: Traffic, sent: usize, received: usize) -> PyResult<()> {
        if sent > 0 {
            self.charge(traffic.send_resource(), sent as f64)?;
        }
        if received > 0 {
            self.charge(traffic.recv_resource(), received as f64)?;
        }
        Ok(())
    }
}

/// Declares an API function: its doc, name, required parameters and, after `;`, optional
/// ones. The body sees the [`Call`] under the first name and each argument under its
/// parameter's name (required ones as `PyObjectRef`, optional ones as
/// `Option<PyObjectRef>`). It defines a constant [`ApiFunction`] of the same name.
#[macro_export]
macro_rules! api_function {
    (
        $(#[doc = $doc:expr])*
        fn $name:ident($call:ident $(, $required:ident)* $(; $($optional:ident),*)?) $body:block
    ) => {
        $(#[doc = $doc])*
        #[allow(non_upper_case_globals)]
        pub const $name: $crate::call::ApiFunction = {
            fn run(
                rt: &::std::sync::Arc<$crate::runtime::Runtime>,
                args: ::rustpython_vm::function::FuncArgs,
                vm: &::rustpython_vm::VirtualMachine,
            ) -> ::rustpython_vm::PyResult {
                #[allow(unused_variables)]
                let ($call, [$($required),*], [$($($optional),*)?]) = $crate::call::Call::bind(
                    stringify!($name),
                    [$(stringify!($required)),*],
                    [$($(stringify!($optional)),*)?],
                    rt,
                    vm,
                    args,
                )?;
                $body
            }
            $crate::call::ApiFunction {
                name: stringify!($name),
                params: &[$(stringify!($required),)* $($(stringify!($optional)),*)?],
                required: <[&str]>::len(&[$(stringify!($required)),*]),
                doc: concat!($($doc, "\n"),*),
                run,
            }
        };
    };
}

#[cfg(test)]
mod tests {
    use rustpython_vm::function::KwArgs;

    use super::*;
    use crate::testing::with_runtime;

    /// Binds `positional` ints and `keywords` (as None) to `f(a; b, c)`: which optionals
    /// were bound to a value and how many arguments call rules see, or the error text.
    fn call(positional: usize, keywords: &[&str]) -> Result<([bool; 2], usize), String> {
        with_runtime(|rt, vm| {
            let args: Vec<PyObjectRef> = (0..positional).map(|i| vm.ctx.new_int(i).into()).collect();
            let kwargs: KwArgs = keywords.iter().map(|k| (k.to_string(), vm.ctx.new_int(7).into())).collect();
            match Call::bind("f", ["a"], ["b", "c"], rt, vm, FuncArgs::new(args, kwargs)) {
                Ok((call, [_a], [b, c])) => Ok(([b.is_some(), c.is_some()], call.passed().len())),
                Err(e) => Err(repy_interpreter::traceback::exception_summary(vm, &e)),
            }
        })
    }

    #[test]
    fn binds_positional_and_keyword_arguments() {
        assert_eq!(call(1, &[]).unwrap(), ([false, false], 1));
        assert_eq!(call(1, &["c"]).unwrap(), ([false, true], 1), "call rules stop at the first omitted argument");
        assert_eq!(call(0, &["a", "b"]).unwrap(), ([true, false], 2));
        assert_eq!(call(3, &[]).unwrap(), ([true, true], 3));
    }

    #[test]
    fn reports_the_call_and_the_culprit() {
        assert!(call(0, &[]).unwrap_err().ends_with("f: missing required argument 'a'"));
        assert!(call(4, &[]).unwrap_err().ends_with("f: takes at most 3 arguments (4 given)"));
        assert!(call(1, &["a"]).unwrap_err().ends_with("f: got multiple values for argument 'a'"));
        assert!(call(1, &["zz"]).unwrap_err().ends_with("f: unexpected keyword argument 'zz'"));
    }

    #[test]
    fn none_for_an_optional_argument_is_omitted() {
        let bound = with_runtime(|rt, vm| {
            let (_, [], [b]) = Call::bind("g", [], ["b"], rt, vm, FuncArgs::new(vec![vm.ctx.none()], KwArgs::default())).unwrap();
            b.is_none()
        });
        assert!(bound);
    }
}
