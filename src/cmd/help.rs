//! `zonestat help [命令]`: the same screens as `--help`.

/// `zonestat help`: the program's help, or one command's.
///
/// # Errors
/// A command name that names none.
pub fn help(name: Option<&str>) -> anyhow::Result<u8> {
    let mut cmd = crate::cli::command();
    cmd.build();
    match name {
        None => cmd.print_help()?,
        Some(name) => match cmd.find_subcommand_mut(name) {
            Some(sub) => sub.print_help()?,
            None => anyhow::bail!("没有“{name}”这个命令；全部命令见 zonestat --help"),
        },
    }
    Ok(0)
}
