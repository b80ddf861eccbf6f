//! `repy keygen NAME [--dir DIR]`: writes an Ed25519 key pair.

use std::path::PathBuf;

use clap::Args;

#[derive(Args)]
pub struct KeygenArgs {
    /// Base name of the key files (NAME.publickey, NAME.privatekey).
    name: String,
    /// Directory to write the files into.
    #[arg(long, default_value = ".")]
    dir: PathBuf,
}

pub fn run(args: KeygenArgs) -> u8 {
    match repy_nodemanager::keys::write_key_pair(&args.dir, &args.name) {
        Ok((public, private)) => {
            println!("wrote {} and {}", public.display(), private.display());
            0
        }
        Err(e) => {
            eprintln!("repy: keygen: {e}");
            2
        }
    }
}
