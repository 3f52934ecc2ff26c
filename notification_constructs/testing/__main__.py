from notification_constructs.testing._server import main

main()
