package Koha::Plugin::Org::KohaMessageCenter;

# The host side of the Message Center. It shows the sidecar's staff pages
# inside Koha (Tools, Administration, and a tab on the patron's page), each
# in an iframe that opens with a fresh signed launch token, and it keeps the
# sidecar's address and the shared secret (Configure).
#
# Enabling and disabling is Koha's own plugin toggle: Koha writes
# plugin_data.__ENABLED__ for this class, and the sidecar reads that row
# before every run and every delivery batch.
#
# The {PLACEHOLDERS} below are filled in from plugin-manifest/manifest.json
# and package.json by `npm run package:kpz`; so is manifest.json beside this
# file, which holds the page list.

use strict;
use warnings;

use base qw(Koha::Plugins::Base);

# Nothing is imported: Koha registers every public sub of this package as a
# plugin method (plugin_methods), so only Koha's hooks are public here.
use C4::Context ();
use C4::Auth ();
use JSON::PP ();

use Koha::Plugin::Org::KohaMessageCenter::LaunchToken ();
use Koha::Plugin::Org::KohaMessageCenter::Pages ();

our $VERSION = '{VERSION}';

our $metadata = {
    name            => '{NAME}',
    author          => '{AUTHOR}',
    description     => '{DESCRIPTION}',
    date_authored   => '{DATE_AUTHORED}',
    date_updated    => '{DATE_UPDATED}',
    minimum_version => '{MINIMUM_VERSION}',
    maximum_version => '{MAXIMUM_VERSION}',
    version         => $VERSION,
};

# The same minimum length the sidecar asks of KMC_SECRET (a lexical: a
# constant is a public sub, and Koha would list it as a plugin method).
my $MIN_SECRET_LENGTH = 16;

# The sub-permission Koha's run.pl asks for each of this plugin's methods:
# it lets a staff member through to method X only with plugins › X.
my %RUN_PERMISSION = ( tool => 'tool', admin => 'admin', configure => 'configure' );

# Files the plugin serves itself, so that no page needs an inline script.
my %ASSETS = ( 'patron-tab.js' => 'application/javascript' );

sub new {
    my ( $class, $args ) = @_;
    $args->{metadata} = { %$metadata, class => $class };
    return $class->SUPER::new($args);
}

sub _pages {
    my ($self) = @_;
    $self->{kmc_pages} ||= Koha::Plugin::Org::KohaMessageCenter::Pages->load( $self->mbf_path('manifest.json') );
    return $self->{kmc_pages};
}

# Nothing until an administrator enters it on Configure: a default address
# would send staff browsers, and their launch tokens, somewhere unchosen.
sub _sidecar_url {
    my ($self) = @_;
    my $url = $self->retrieve_data('sidecar_url');
    return ( defined $url && length $url ) ? $url : undef;
}

# The shared secret: from koha-conf.xml (<message_center_secret>) when it is
# there, else as Configure stored it. koha-conf.xml is for system
# administrators only, whereas plugin_data can be read by anyone who may
# write SQL reports, and the secret lets its holder sign in as any staff member.
sub _secret_in_conf {
    my $secret = C4::Context->config('message_center_secret');
    return ( defined $secret && !ref($secret) && length $secret ) ? $secret : undef;
}

sub _secret {
    my ($self) = @_;
    my $secret = _secret_in_conf() // $self->retrieve_data('secret');
    return ( defined $secret && length $secret ) ? $secret : undef;
}

# Whether the signed-in staff member holds any one of the page's Koha
# permissions, each as Koha's checks take it: { tools => 'edit_notices' },
# { tools => '*' } or { tools => 1 }. Asked one by one, because not every
# Koha version takes a list of alternatives.
sub _may_open {
    my ( $self, $page ) = @_;
    my $env = C4::Context->userenv or return 0;
    return 0 unless $env->{id};
    for my $alternative ( @{ $page->{permission} } ) {
        return 1 if C4::Auth::haspermission( $env->{id}, {%$alternative} );
    }
    return 0;
}

# Whether run.pl lets this staff member through to one of this plugin's
# methods: a link that would end on Koha's permission-denied page is not offered.
sub _may_run {
    my ( $self, $method ) = @_;
    my $env = C4::Context->userenv or return 0;
    return 0 unless $env->{id} && $RUN_PERMISSION{$method};
    return C4::Auth::haspermission( $env->{id}, { plugins => $RUN_PERMISSION{$method} } ) ? 1 : 0;
}

# Tools > Message Center. Lists the tools pages and, for Koha versions
# without administration plugins (before 24.05), the administration pages.
# Also answers the patron tab (page=patron_messages&borrowernumber=N) and
# serves the patron tab's script (asset=patron-tab.js).
sub tool {
    my ($self) = @_;
    my $asset = $self->{cgi}->param('asset');
    return $self->_asset($asset) if defined $asset && length $asset;
    return $self->_show( 'tool', [qw(tools administration)], ['patron_tab'] );
}

# Administration > Message Center (Koha 24.05 and later list it there).
sub admin {
    my ($self) = @_;
    return $self->_show( 'admin', ['administration'], [] );
}

sub _show {
    my ( $self, $method, $listed, $reachable ) = @_;
    my $cgi   = $self->{cgi};
    my $pages = $self->_pages;
    my @menu  = grep { $self->_may_open($_) } $pages->in(@$listed);

    my $page;
    my $asked = $cgi->param('page');
    if ( defined $asked && length $asked ) {
        $page = $pages->find($asked);
        my %here = map { $_ => 1 } @$listed, @$reachable;
        return $self->_problem( $method, \@menu, 'unknown_page' ) unless $page && $here{ $page->{shows} };
        return $self->_problem( $method, \@menu, 'no_permission', $page ) unless $self->_may_open($page);
    }
    else {
        $page = $menu[0] or return $self->_problem( $method, \@menu, 'no_pages' );
    }

    my $secret = $self->_secret;
    my $base   = $self->_sidecar_url;
    return $self->_problem( $method, \@menu, 'not_configured', $page ) unless defined $secret && defined $base;
    my $staff = ( C4::Context->userenv || {} )->{number};
    # Koha's database user (from koha-conf.xml) has no borrowernumber to sign for.
    return $self->_problem( $method, \@menu, 'no_staff_account', $page )
      unless defined $staff && $staff =~ /\A[1-9][0-9]{0,9}\z/;

    my %values = map { $_ => scalar $cgi->param($_) } $pages->needs($page);
    my $path   = eval { $pages->path_for( $page, \%values ) };
    return $self->_problem( $method, \@menu, 'bad_request', $page ) unless defined $path;

    my $url = Koha::Plugin::Org::KohaMessageCenter::LaunchToken::launch_url(
        $base, Koha::Plugin::Org::KohaMessageCenter::LaunchToken::make_launch_token( $secret, $staff ),
        $path, $pages->launch_path, $self->_staff_language
    );

    if ( $cgi->param('launch') ) {
        # The patron tab's iframe comes here only when staff open the tab,
        # so its token is made then, not when the patron page was drawn.
        print $cgi->redirect( -uri => $url, -status => '302 Found', -Cache_Control => 'no-store' );
        return;
    }

    my $template = $self->get_template( { file => 'page.tt' } );
    $template->param(
        area         => $method,
        plugin_class => ref($self),
        title        => $pages->title,
        menu         => \@menu,
        current      => $page,
        iframe_src   => $url,
        values       => \%values,
    );
    $self->output_html( $template->output() );
    return;
}

sub _asset {
    my ( $self, $name ) = @_;
    my $cgi  = $self->{cgi};
    my $type = $ASSETS{$name};
    my $body = $type ? $self->_read_file($name) : undef;
    unless ( defined $body ) {
        print $cgi->header( -type => 'text/plain', -charset => 'UTF-8', -status => '404 Not Found' ), "Not found\n";
        return;
    }
    print $cgi->header(
        -type                   => $type,
        -charset                => 'UTF-8',
        -Cache_Control          => 'private, max-age=3600',
        -X_Content_Type_Options => 'nosniff',
      ),
      $body;
    return;
}

sub _read_file {
    my ( $self, $name ) = @_;
    open( my $fh, '<:raw', $self->mbf_path($name) ) or return;
    local $/;
    my $body = <$fh>;
    close($fh);
    return $body;
}

# The language Koha shows this staff member (e.g. sv-SE); none if Koha cannot say.
sub _staff_language {
    my ($self) = @_;
    my $lang = eval { require C4::Languages; C4::Languages::getlanguage( $self->{cgi} ) };
    return $lang;
}

# The configure page's texts in the staff member's language (i18n/<lang>.json),
# English for what a catalogue lacks.
sub _texts {
    my ($self) = @_;
    my $read = sub {
        my $raw = $self->_read_file("i18n/$_[0].json");
        return {} unless defined $raw;
        my $texts = eval { JSON::PP->new->utf8->decode($raw) };
        return ref($texts) eq 'HASH' ? $texts : {};
    };
    my %texts = %{ $read->('en') };
    my ($lang) = lc( $self->_staff_language // '' ) =~ /\A([a-z]{2,3})(?:[-_]|\z)/;
    if ( $lang && $lang ne 'en' ) {
        my $own = $read->($lang);
        @texts{ keys %$own } = values %$own;
    }
    return \%texts;
}

# Whether staff reach Koha over https: an http sidecar in its pages is then
# mixed content, which browsers block in an iframe.
sub _koha_is_https {
    return 1 if ( $ENV{HTTPS} // '' ) =~ /\A(?:on|1)\z/i;
    return 1 if lc( $ENV{HTTP_X_FORWARDED_PROTO} // '' ) eq 'https';
    my $base = eval { C4::Context->preference('staffClientBaseURL') } // '';
    return $base =~ m{\Ahttps://}i ? 1 : 0;
}

sub _problem {
    my ( $self, $method, $menu, $problem, $page ) = @_;
    my $template = $self->get_template( { file => 'page.tt' } );
    $template->param(
        area          => $method,
        plugin_class  => ref($self),
        title         => $self->_pages->title,
        menu          => $menu,
        current       => $page,
        problem       => $problem,
        may_configure => $problem eq 'not_configured' ? $self->_may_run('configure') : 0,
    );
    $self->output_html( $template->output(), $problem eq 'no_permission' ? '403 Forbidden' : undef );
    return;
}

# Configure: the sidecar's address and the shared secret (KMC_SECRET on the
# sidecar's side). The secret is never shown again; an empty field keeps it.
sub configure {
    my ($self) = @_;
    my $cgi = $self->{cgi};
    my %shown = ( sidecar_url => $self->_sidecar_url // '' );
    my @errors;
    my $saved = 0;

    if ( ( $cgi->param('op') // '' ) eq 'cud-save' ) {
        my $url    = $cgi->param('sidecar_url') // '';
        my $secret = $cgi->param('secret') // '';
        $url =~ s/\A\s+|\s+\z//g;
        $url =~ s{/+\z}{};
        $shown{sidecar_url} = $url;
        push @errors, 'sidecar_url'
          unless $url =~ m{\Ahttps?://[A-Za-z0-9.\-\[\]:]+(?:/[A-Za-z0-9_\-./~%]*)?\z};
        if ( defined _secret_in_conf() ) {
            $secret = '';    # koha-conf.xml decides; nothing to store
        }
        elsif ( length $secret ) {
            push @errors, 'secret_short' if length($secret) < $MIN_SECRET_LENGTH;
            push @errors, 'secret_long'  if length($secret) > 1000;
        }
        elsif ( !defined $self->_secret ) {
            push @errors, 'secret_missing';
        }
        unless (@errors) {
            my %data = ( sidecar_url => $url );
            $data{secret} = $secret if length $secret;
            $self->store_data( \%data );
            $saved = 1;
        }
    }

    my $texts = $self->_texts;
    s/\{min_secret\}/$MIN_SECRET_LENGTH/g for values %$texts;
    my $template = $self->get_template( { file => 'configure.tt' } );
    $template->param(
        plugin_class     => ref($self),
        title            => $self->_pages->title,
        t                => $texts,
        sidecar_url      => $shown{sidecar_url},
        mixed_content    => ( $shown{sidecar_url} =~ m{\Ahttp://}i && _koha_is_https() ) ? 1 : 0,
        secret_set       => defined( $self->_secret ) ? 1 : 0,
        secret_in_conf   => defined( _secret_in_conf() ) ? 1 : 0,
        suggested_secret => Koha::Plugin::Org::KohaMessageCenter::LaunchToken::random_nonce()
          . Koha::Plugin::Org::KohaMessageCenter::LaunchToken::random_nonce(),
        errors => { map { $_ => 1 } @errors },
        saved  => $saved,
        pages  => [ $self->_pages->all ],
    );
    $self->output_html( $template->output() );
    return;
}

# Nothing to set up: the sidecar's address stays empty until Configure.
sub install {
    return 1;
}

sub upgrade {
    return 1;
}

# Koha removes this plugin's plugin_data rows itself; the sidecar's own
# kmc_ tables and messages stay: they are the library's record.
sub uninstall {
    return 1;
}

# Koha has no patron-page tab hook for plugins (only
# intranet_catalog_biblio_tab for records), so a script adds the tab on the
# patron's page (moremember.pl) and an entry in the patron menu on every
# patron page. Koha calls this on every staff page: on the others it returns
# at once, with no query and no file read. The script is a file loaded by
# src, its settings in data- attributes, so it runs under a staff-interface
# Content-Security-Policy without 'unsafe-inline'. Nothing here holds a
# token: the tab's iframe asks the tool page (launch=1) for one when opened.
sub intranet_js {
    my ($self) = @_;
    return '' unless _on_patron_page();
    return '' unless defined $self->_sidecar_url;
    return '' unless defined $self->_secret && $self->_may_run('tool');
    my ($page) = $self->_pages->in('patron_tab');
    return '' unless $page && $self->_may_open($page);

    my $class  = ref($self);
    my $config = JSON::PP->new->ascii->canonical->encode(
        {
            pluginClass => $class,
            pageId      => $page->{id},
            title       => $page->{title},
            menuTitle   => $page->{title} . ' (' . $self->_pages->title . ')',
            runUrl      => '/cgi-bin/koha/plugins/run.pl',
        }
    );
    my $src = '/cgi-bin/koha/plugins/run.pl?class='
      . Koha::Plugin::Org::KohaMessageCenter::LaunchToken::uri_escape_utf8($class)
      . '&method=tool&asset=patron-tab.js&v='
      . Koha::Plugin::Org::KohaMessageCenter::LaunchToken::uri_escape_utf8($VERSION);
    return '<script src="' . _attr($src) . '" data-kmc-patron-tab="' . _attr($config) . '" defer></script>' . "\n";
}

# Koha's patron pages (members/*.pl); true when the web server does not say
# which script runs, so the tab is then decided by the checks after it.
sub _on_patron_page {
    my $script = $ENV{SCRIPT_NAME} // $ENV{REQUEST_URI};
    return 1 unless defined $script && length $script;
    $script =~ s/[?#].*\z//s;
    return $script =~ m{/members/[A-Za-z0-9_\-]+\.pl\z} ? 1 : 0;
}

sub _attr {
    my ($text) = @_;
    $text =~ s/&/&amp;/g;
    $text =~ s/"/&quot;/g;
    $text =~ s/'/&#39;/g;
    $text =~ s/</&lt;/g;
    $text =~ s/>/&gt;/g;
    return $text;
}

1;
