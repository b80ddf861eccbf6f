# gethostbyname_ex() and getmyip(): the machine may have no Internet route, so getmyip()
# may raise InternetConnectivityError; both outcomes are accepted.
#pragma out localhost resolves to 127.0.0.1: True
#pragma out NetworkAddressError gethostbyname_ex
#pragma out getmyip ok
if callfunc == 'initialize':
    name, aliases, ips = gethostbyname_ex('localhost')
    print('localhost resolves to 127.0.0.1:', '127.0.0.1' in ips)
    try:
        gethostbyname_ex('not a host name!')
    except NetworkAddressError as e:
        print('NetworkAddressError', e)
    try:
        ip = getmyip()
        print('getmyip ok' if type(ip) is str and ip.count('.') == 3 else 'getmyip bad: ' + repr(ip))
    except InternetConnectivityError:
        print('getmyip ok (no connectivity)')
