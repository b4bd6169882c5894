from loadkit.cli import main

main()
