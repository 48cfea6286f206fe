# Console look: a large Terminus font and a Gruvbox-like palette, set early in
# boot so the LUKS passphrase prompt uses them too.
{ lib, pkgs, ... }:
{
  console = {
    earlySetup = lib.mkDefault true;
    font = lib.mkDefault "ter-v20n";
    packages = [ pkgs.terminus_font ];
    colors = lib.mkDefault [
      "282828"
      "cc241d"
      "98971a"
      "d79921"
      "458588"
      "b16286"
      "689d6a"
      "a89984"
      "928374"
      "fb4934"
      "b8bb26"
      "fabd2f"
      "83a598"
      "d3869b"
      "8ec07c"
      "ebdbb2"
    ];
  };
}
