//! `spin:variables@3.0.0` and Spin 2's `fermyon:spin/variables@2.0.0`:
//! only the variables the component declares (Spin's factor-variables).

use super::*;

impl vars::Host for SpinView<'_> {}

impl<D> vars::HostWithStore<D> for SpinHost {
    async fn get(
        accessor: &Accessor<D, Self>,
        name: String,
    ) -> wasmtime::Result<Result<String, vars::Error>> {
        accessor.with(|mut a| {
            let view = a.get();
            Ok(match lookup(&view.caps.id, &view.caps.variables, &name) {
                Lookup::Found(v) => Ok(v),
                Lookup::InvalidName(m) => Err(vars::Error::InvalidName(m)),
                Lookup::Undefined(m) => Err(vars::Error::Undefined(m)),
            })
        })
    }
}

/// Spin 2's synchronous `fermyon:spin/variables@2.0.0`, which Spin 3+ still
/// serves; the same lookup as `spin:variables@3.0.0`.
impl vars2::Host for SpinView<'_> {
    fn get(&mut self, name: String) -> wasmtime::Result<Result<String, vars2::Error>> {
        Ok(match lookup(&self.caps.id, &self.caps.variables, &name) {
            Lookup::Found(v) => Ok(v),
            Lookup::InvalidName(m) => Err(vars2::Error::InvalidName(m)),
            Lookup::Undefined(m) => Err(vars2::Error::Undefined(m)),
        })
    }
}
