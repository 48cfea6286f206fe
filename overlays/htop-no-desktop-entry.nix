# htop without its desktop entry and icons: on hosts it is run from a
# terminal, never from an application menu.
_: _final: prev: {
  htop = prev.htop.overrideAttrs {
    preFixup = ''
      rm -rf $out/share/applications $out/share/icons $out/share/pixmaps
    '';
  };
}
