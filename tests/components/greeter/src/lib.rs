//! Exports `lode:test/greet`; the probe component imports it, and the host
//! composes the two through `[component.probe.dependencies]`.

spin_sdk::wit_bindgen::generate!({
    world: "greeter",
    path: "../wit",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
});

struct Greeter;

impl exports::lode::test::greet::Guest for Greeter {
    fn greet(name: String) -> String {
        format!("hello, {name}, from the greeter component")
    }

    fn env(name: String) -> Option<String> {
        std::env::var(name).ok()
    }
}

export!(Greeter);
