# The people who administer the fleet: SSH keys authorised for root and the
# admin user on every host. Pure data. The example key must be replaced.
{
  example = {
    # EXAMPLE ONLY: replace with your own public key (its private half is not
    # in the repository, so nobody can log in with it).
    sshKeys = [
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICG6cG7Bu1s6g0+88iGoXjMSTrChUyIATKi4seOeROdx example-admin"
    ];
  };
}
