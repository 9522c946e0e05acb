//! The `wgpu-lstm` command: see `wgpu-lstm --help`.

mod cli;

fn main() -> std::process::ExitCode {
    // Output into a pipe closed early (`wgpu-lstm demo | head`) ends the process quietly, as
    // Unix tools do, instead of panicking in println!. Rust sets SIGPIPE to ignored at start-up;
    // this restores the default before anything is written.
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to SIG_DFL touches no Rust state, before any thread.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or("warn,wgpu_hal::gles::egl=off"),
    )
    .init();
    cli::main()
}
