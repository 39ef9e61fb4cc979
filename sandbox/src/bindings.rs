//! Host bindings generated from the frozen contract in `wit/v0.1.0/`.
//! Every import may trap: that is how a call outside the grant stops the guest.

wasmtime::component::bindgen!({
    path: "../wit/v0.1.0",
    world: "extension",
    imports: { default: trappable },
});

pub use exports::magflock::extension::guest;
pub use magflock::extension::types;
