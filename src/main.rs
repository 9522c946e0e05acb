//! The `wgpu-lstm` command: see `wgpu-lstm --help`.

mod cli;

fn main() -> std::process::ExitCode {
    env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or("warn,wgpu_hal::gles::egl=off"),
    )
    .init();
    cli::main()
}
