/// The crate's version, exposed so Python can check it loaded the build it expects.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[cfg(test)]
mod tests {
    use super::VERSION;

    #[test]
    fn version_matches_cargo_manifest() {
        assert_eq!(VERSION.split('.').count(), 3);
    }
}
